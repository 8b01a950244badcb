import Logging

/// Everything `echo-server` runs with, each value with the layer it came from.
public struct EchoServerSettings: Sendable, Equatable {
    public var port: ConfiguredValue<UInt16>
    public var host: ConfiguredValue<String>
    public var mode: ConfiguredValue<EchoMode>
    /// Seconds a connection may stay idle (or unable to take its echoes); 0 = no timeout.
    public var idleTimeout: ConfiguredValue<Double>
    /// Largest frame payload accepted in framed mode, in bytes.
    public var maxFrame: ConfiguredValue<UInt32>
    public var maxClients: ConfiguredValue<Int>
    public var workers: ConfiguredValue<Int>
    /// Seconds given to draining after SIGINT/SIGTERM.
    public var drainTimeout: ConfiguredValue<Double>
    public var logLevel: ConfiguredValue<Logger.Level>

    public init(
        port: ConfiguredValue<UInt16>,
        host: ConfiguredValue<String>,
        mode: ConfiguredValue<EchoMode>,
        idleTimeout: ConfiguredValue<Double>,
        maxFrame: ConfiguredValue<UInt32>,
        maxClients: ConfiguredValue<Int>,
        workers: ConfiguredValue<Int>,
        drainTimeout: ConfiguredValue<Double>,
        logLevel: ConfiguredValue<Logger.Level>
    ) {
        self.port = port
        self.host = host
        self.mode = mode
        self.idleTimeout = idleTimeout
        self.maxFrame = maxFrame
        self.maxClients = maxClients
        self.workers = workers
        self.drainTimeout = drainTimeout
        self.logLevel = logLevel
    }

    /// Settings built in code (tests, embedders): plain values, defaults for
    /// the rest; values passed here are marked `flag`, the others `default`.
    public init(
        port: UInt16,
        host: String? = nil,
        mode: EchoMode? = nil,
        idleTimeout: Double? = nil,
        maxFrame: UInt32? = nil,
        maxClients: Int? = nil,
        workers: Int? = nil,
        drainTimeout: Double? = nil,
        logLevel: Logger.Level? = nil
    ) {
        func given<T>(_ value: T?, else fallback: T) -> ConfiguredValue<T> {
            value.map { ConfiguredValue($0, origin: .flag) }
                ?? ConfiguredValue(fallback, origin: .default)
        }
        self.init(
            port: ConfiguredValue(port, origin: .flag),
            host: given(host, else: EchoSetting.defaultHost),
            mode: given(mode, else: EchoSetting.defaultMode),
            idleTimeout: given(idleTimeout, else: EchoSetting.defaultIdleTimeout),
            maxFrame: given(maxFrame, else: EchoSetting.defaultMaxFrame),
            maxClients: given(maxClients, else: EchoSetting.defaultMaxClients),
            workers: given(workers, else: EchoSetting.defaultWorkers),
            drainTimeout: given(drainTimeout, else: EchoSetting.defaultDrainTimeout),
            logLevel: given(logLevel, else: EchoSetting.defaultLogLevel))
    }

    /// The idle timeout as a duration; nil when it is 0 (no timeout).
    public var idleTimeoutDuration: Duration? {
        idleTimeout.value > 0 ? .milliseconds(Int64((idleTimeout.value * 1000).rounded())) : nil
    }

    public var drainTimeoutDuration: Duration {
        .milliseconds(Int64((drainTimeout.value * 1000).rounded()))
    }

    /// One row per setting, in SPEC §4 order, as `config show` prints them.
    public var effectiveSettings: [EffectiveSetting] {
        EffectiveSetting.rows(
            port: port, host: host, mode: mode, idleTimeout: idleTimeout, maxFrame: maxFrame,
            maxClients: maxClients, workers: workers, drainTimeout: drainTimeout, logLevel: logLevel)
    }
}

/// One line of `config show`: the setting, its value as text, and its origin.
public struct EffectiveSetting: Sendable, Equatable {
    public let setting: EchoSetting
    /// The value as a user would write it; `none` for a port set nowhere.
    public let value: String
    public let origin: ConfigOrigin

    public init(setting: EchoSetting, value: String, origin: ConfigOrigin) {
        self.setting = setting
        self.value = value
        self.origin = origin
    }

    /// `port 9900 flag`, with the name and value columns padded so rows align.
    public static func format(_ rows: [EffectiveSetting]) -> [String] {
        let nameWidth = rows.map(\.setting.name.count).max() ?? 0
        let valueWidth = rows.map(\.value.count).max() ?? 0
        return rows.map { row in
            row.setting.name.padded(to: nameWidth) + "  " + row.value.padded(to: valueWidth) + "  "
                + row.origin.rawValue
        }
    }

    static func rows(
        port: ConfiguredValue<UInt16>?, host: ConfiguredValue<String>, mode: ConfiguredValue<EchoMode>,
        idleTimeout: ConfiguredValue<Double>, maxFrame: ConfiguredValue<UInt32>,
        maxClients: ConfiguredValue<Int>, workers: ConfiguredValue<Int>,
        drainTimeout: ConfiguredValue<Double>, logLevel: ConfiguredValue<Logger.Level>
    ) -> [EffectiveSetting] {
        [
            EffectiveSetting(
                setting: .port, value: port.map { String($0.value) } ?? "none",
                origin: port?.origin ?? .default),
            EffectiveSetting(setting: .host, value: host.value, origin: host.origin),
            EffectiveSetting(setting: .mode, value: mode.value.rawValue, origin: mode.origin),
            EffectiveSetting(
                setting: .timeout, value: secondsText(idleTimeout.value), origin: idleTimeout.origin),
            EffectiveSetting(setting: .maxFrame, value: String(maxFrame.value), origin: maxFrame.origin),
            EffectiveSetting(
                setting: .maxClients, value: String(maxClients.value), origin: maxClients.origin),
            EffectiveSetting(setting: .workers, value: String(workers.value), origin: workers.origin),
            EffectiveSetting(
                setting: .drainTimeout, value: secondsText(drainTimeout.value), origin: drainTimeout.origin),
            EffectiveSetting(setting: .logLevel, value: logLevel.value.rawValue, origin: logLevel.origin),
        ]
    }

    /// `300`, not `300.0`; `0.5` stays `0.5`.
    static func secondsText(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int64(seconds)) : String(seconds)
    }
}

extension String {
    fileprivate func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
