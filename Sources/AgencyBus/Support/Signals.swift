#if canImport(Glibc)
import Glibc
#endif

// nonisolated(unsafe): written only by the signal handler (a single sig_atomic_t store, the one
// thing a handler may safely do) and read by the owner loop between polls.
nonisolated(unsafe) private var stopFlag: sig_atomic_t = 0

/// SIGINT/SIGTERM ask long-running commands (broker, subscribe) to stop at the next poll.
public enum StopSignal {
    public static func install() {
        signal(SIGINT) { _ in stopFlag = 1 }
        signal(SIGTERM) { _ in stopFlag = 1 }
        signal(SIGPIPE, SIG_IGN)
    }

    public static var requested: Bool { stopFlag != 0 }
}
