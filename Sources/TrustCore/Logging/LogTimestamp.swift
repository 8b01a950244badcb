#if canImport(Glibc)
    import Glibc
#endif

/// A wall-clock instant for log lines, split into UTC calendar fields with
/// integer arithmetic only.
///
/// Neither DateFormatter (locks, allocation) nor gmtime_r (glibc takes the
/// time-zone lock even for UTC) runs per line: the civil date comes from
/// Howard Hinnant's `civil_from_days` algorithm, a handful of divisions.
struct LogTimestamp: Equatable {
    /// Seconds since the Unix epoch, UTC.
    var seconds: Int64
    /// 0..<1_000_000_000.
    var nanoseconds: Int32

    static func now() -> LogTimestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return LogTimestamp(seconds: Int64(spec.tv_sec), nanoseconds: Int32(spec.tv_nsec))
    }

    struct Civil: Equatable {
        var year: Int64
        var month: Int
        var day: Int
        var hour: Int
        var minute: Int
        var second: Int
        var millisecond: Int
    }

    var civil: Civil {
        let secondsPerDay: Int64 = 86_400
        // Floor division, so instants before 1970 land on the right day.
        var days = seconds / secondsPerDay
        var secondOfDay = seconds % secondsPerDay
        if secondOfDay < 0 {
            secondOfDay += secondsPerDay
            days -= 1
        }
        let date = Self.civilDate(fromDaysSinceEpoch: days)
        return Civil(
            year: date.year,
            month: date.month,
            day: date.day,
            hour: Int(secondOfDay / 3600),
            minute: Int(secondOfDay % 3600 / 60),
            second: Int(secondOfDay % 60),
            millisecond: Int(nanoseconds / 1_000_000)
        )
    }

    /// Proleptic Gregorian date of a day count since 1970-01-01
    /// (http://howardhinnant.github.io/date_algorithms.html#civil_from_days).
    static func civilDate(fromDaysSinceEpoch days: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = days + 719_468  // days since 0000-03-01
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097  // 0...146096
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365  // 0...399
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // 0...365, from March 1
        let monthFromMarch = (5 * dayOfYear + 2) / 153  // 0...11
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, Int(month), Int(day))
    }
}
