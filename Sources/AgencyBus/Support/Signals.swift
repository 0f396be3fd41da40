#if canImport(Glibc)
import Glibc
#endif

// nonisolated(unsafe): written only by the signal handler (a single sig_atomic_t store, the one
// thing a handler may safely do) and read by the owner loop between polls.
nonisolated(unsafe) private var stopFlag: sig_atomic_t = 0
// Same contract: set by the SIGHUP handler, read and cleared by the owner loop.
nonisolated(unsafe) private var reloadFlag: sig_atomic_t = 0

/// SIGINT/SIGTERM ask long-running commands (broker, subscribe) to stop at the next poll.
public enum StopSignal {
    public static func install() {
        unblock([SIGINT, SIGTERM])
        signal(SIGINT) { _ in stopFlag = 1 }
        signal(SIGTERM) { _ in stopFlag = 1 }
        signal(SIGPIPE, SIG_IGN)
    }

    public static var requested: Bool { stopFlag != 0 }

    /// SIGHUP asks the broker to read its topology again.
    public static func installReload() {
        unblock([SIGHUP])
        signal(SIGHUP) { _ in reloadFlag = 1 }
    }

    /// A parent (a test runner, a shell script) may start us with these signals blocked, and
    /// a blocked signal never reaches its handler; unblock the ones we handle.
    private static func unblock(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// True once per SIGHUP received.
    public static func takeReloadRequest() -> Bool {
        guard reloadFlag != 0 else { return false }
        reloadFlag = 0
        return true
    }
}
