import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A full-screen terminal session for `bus-cli watch`: the alternate screen, a hidden cursor,
/// and stdin in raw mode (no echo, no line buffering, no signal keys) so that single keys
/// arrive at once. `restore()` undoes all of it and is idempotent; call it on every exit path
/// (the CLI does it in a `defer`, and SIGINT/SIGTERM only set a flag the loop checks).
public final class TerminalScreen {
    private var saved: termios?
    private var active = false

    /// Enters full-screen mode; nil when stdin or stdout is not a terminal.
    public init?() {
        guard isatty(STDIN_FILENO) != 0, isatty(STDOUT_FILENO) != 0 else { return nil }
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return nil }
        saved = original
        var raw = original
        // Not cfmakeraw: output processing (\n → \r\n) stays on. ISIG off: Ctrl-C arrives as
        // byte 3 and quits like 'q', and Ctrl-Z cannot leave the terminal in raw mode.
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0 else { return nil }
        active = true
        write("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
    }

    deinit { restore() }

    /// Leaves the alternate screen, shows the cursor and puts the terminal mode back.
    public func restore() {
        guard active else { return }
        active = false
        write("\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l")
        if var original = saved { tcsetattr(STDIN_FILENO, TCSAFLUSH, &original) }
    }

    /// Columns and rows of the terminal (80×24 when unknown).
    public var size: (columns: Int, rows: Int) {
        var w = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0, w.ws_row > 0 else { return (80, 24) }
        return (Int(w.ws_col), Int(w.ws_row))
    }

    /// The keys typed since the last call (never blocks).
    public func keys() -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    /// Draws `lines` from the top-left corner, clearing what was there.
    public func draw(_ lines: [String]) {
        var frame = "\u{1B}[H"
        for (i, line) in lines.enumerated() {
            frame += line + "\u{1B}[K" + (i < lines.count - 1 ? "\r\n" : "")
        }
        frame += "\u{1B}[J"
        write(frame)
    }

    private func write(_ text: String) {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}
