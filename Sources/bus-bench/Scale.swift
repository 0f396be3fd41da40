import Foundation

/// How big each scenario is. Full scale is the issue's; `--quick` is a smoke run.
struct Scale {
    var name: String
    var runsFast: Int          // S1, S2, S3 single circular, S5, limits
    var runsLarge: Int         // S3 back-to-back, S4
    var s1Small: Int
    var s1Large: Int
    var s2Seconds: Double
    var s2Rate: Double = 500
    var s3Agencies: Int
    var s3Circulars: Int
    var s4Backlog: Int
    var s5Messages: Int
    var s5Pending: Int
    var s6Letters: Int
    var treeItems = 200
    var queryReps: Int
    var traceReps: Int
    var rawSmallCount: Int
    var rawLargeCount: Int
    var rawLatencyCount: Int
    var limitSeconds: Double

    static let full = Scale(name: "full", runsFast: 3, runsLarge: 1, s1Small: 50_000, s1Large: 2_000, s2Seconds: 20,
                            s3Agencies: 500, s3Circulars: 100, s4Backlog: 100_000, s5Messages: 1_000_000, s5Pending: 1_000,
                            s6Letters: 1_000_000, queryReps: 200, traceReps: 100, rawSmallCount: 200_000, rawLargeCount: 2_000,
                            rawLatencyCount: 4_000, limitSeconds: 1.5)

    static let quick = Scale(name: "quick", runsFast: 1, runsLarge: 1, s1Small: 3_000, s1Large: 100, s2Seconds: 4,
                             s3Agencies: 50, s3Circulars: 10, s4Backlog: 5_000, s5Messages: 20_000, s5Pending: 100,
                             s6Letters: 20_000, queryReps: 30, traceReps: 20, rawSmallCount: 20_000, rawLargeCount: 200,
                             rawLatencyCount: 1_000, limitSeconds: 0.5)
}
