import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a short-lived helper program (tmux, systemd-analyze, sh) with posix_spawn and waitpid.
///
/// Why not Foundation's Process: a program that daemonizes (tmux starts its server and exits)
/// was seen left as a zombie that Process never reaped, and `waitUntilExit()` then spun on a
/// core forever, hanging the test run. waitpid on our own pid cannot miss the exit.
enum SpawnedProgram {
    struct Result { var status: Int32; var stdout: String; var stderr: String; var timedOut: Bool }

    static func run(_ path: String, _ arguments: [String], environment: [String: String],
                    outputIn directory: URL, timeout: Double = 10) async throws -> Result {
        let name = UUID().uuidString
        let outPath = directory.appendingPathComponent("\(name).out").path
        let errPath = directory.appendingPathComponent("\(name).err").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw HarnessError("cannot start \(path): \(String(cString: strerror(spawned)))") }

        var status: Int32 = 0
        var timedOut = false
        let deadline = Date().addingTimeInterval(timeout)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                break
            }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        // WIFEXITED / WEXITSTATUS, spelled out (the C macros do not import).
        let exited = status & 0x7f == 0
        let code: Int32 = timedOut ? -1 : (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f))
        return Result(status: code, stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "", timedOut: timedOut)
    }
}
