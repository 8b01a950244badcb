/// A resolved setting together with the layer it came from, so `config show`
/// and error messages can say why a value is what it is.
public struct ConfiguredValue<Value: Sendable>: Sendable {
    public var value: Value
    public var origin: ConfigOrigin

    public init(_ value: Value, origin: ConfigOrigin) {
        self.value = value
        self.origin = origin
    }
}

extension ConfiguredValue: Equatable where Value: Equatable {}
