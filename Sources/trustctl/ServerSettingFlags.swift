import ArgumentParser
import Foundation
import TrustCore

/// The setting flags of `echo-server` and `config show`: one per declaration
/// in `ServerSetting.all`, given as text to `ConfigResolver`.
enum ServerSettingFlags {
    /// The flags given, by setting name, checked alone (usage errors, 64).
    static func parse(_ syntax: CommandSyntax, _ arguments: [String], helpFor type: any ParsableCommand.Type) throws
        -> [String: String]
    {
        let flags = try syntax.parse(arguments, helpFor: type).values
        do {
            try ConfigResolver.checkFlags(flags)
        } catch {
            throw ValidationError(error.message)
        }
        return flags
    }

    /// The flags of a command's words resolved over the process's
    /// environment and its TRUST_HOME: what `echo-server` and `config show`
    /// both start from.
    static func resolver(_ syntax: CommandSyntax, _ arguments: [String], helpFor type: any ParsableCommand.Type)
        throws -> ConfigResolver
    {
        let flags = try parse(syntax, arguments, helpFor: type)
        return try resolver(flags, environment: ProcessInfo.processInfo.environment)
    }

    /// A resolver over these flags, the environment and its TRUST_HOME.
    static func resolver(_ flags: [String: String], environment: [String: String]) throws(TrustError)
        -> ConfigResolver
    {
        ConfigResolver(
            flags: flags, environment: environment, trustHome: try TrustHome.locate(environment: environment))
    }
}
