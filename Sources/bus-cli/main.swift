import AgencyBus
import Foundation

// bus-cli: argv → verb → options → run → exit code. Each verb lives in its own file;
// all logic is in the AgencyBus library.

let verbs: [Verb] = [initVerb, sendVerb, subscribeVerb, inboxVerb, showVerb, outboxVerb, disposeVerb, statusVerb, traceVerb, verifyDeliveryVerb]
exit(CommandRunner.main(tool: "bus-cli",
                        abstract: "Send, receive and inspect signed official letters on the AgencyBus.",
                        verbs: verbs, arguments: Array(CommandLine.arguments.dropFirst())))
