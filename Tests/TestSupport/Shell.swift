import Foundation

/// Runs `command` with /bin/sh in `directory`; its exit status and its output (stdout and
/// stderr together).
public func runShell(_ command: String, in directory: String) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    p.currentDirectoryURL = URL(fileURLWithPath: directory)
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// `runShell` on a thread of its own, awaited: a long command (installing Python tools, a
/// fuzzing run) must not hold one of the cooperative pool's few threads while it runs.
public func runShellOffPool(_ command: String, in directory: String) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result { try runShell(command, in: directory) })
        }.start()
    }
}
