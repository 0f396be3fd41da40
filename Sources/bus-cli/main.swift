import AgencyBus
import Foundation

// bus-cli: argv → verb → options → run → exit code. Each verb lives in its own file;
// all logic is in the AgencyBus library.

let verbs: [Verb] = [initVerb, rekeyVerb, sendVerb, subscribeVerb, inboxVerb, showVerb, outboxVerb, disposeVerb, statusVerb, traceVerb, verifyDeliveryVerb,
                     agendaVerb, searchVerb, archiveVerb,
                     statsVerb, tailVerb, watchVerb]
// `archive export|verify|prune|retention` are sub-verbs with their own options (Archive.swift).
if let code = ArchiveCommand.dispatch(Array(CommandLine.arguments.dropFirst())) { exit(code) }
exit(CommandRunner.main(tool: "bus-cli",
                        abstract: "Send, receive and inspect signed official letters on the AgencyBus.",
                        verbs: verbs, arguments: Array(CommandLine.arguments.dropFirst())))
