import ArgumentParser
import MeshControl
import MeshCrypto

/// `meshctl key …`: WireGuard keys, interchangeable with `wg genkey` and `wg pubkey`.
struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Generate WireGuard keys and derive public keys (same format as wg genkey / wg pubkey).",
        subcommands: [Generate.self, Public.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new private key in base64, like `wg genkey`.",
            discussion: "Keep it secret: `umask 077; meshctl key generate > private.key`.")

        func run() {
            print(X25519PrivateKey().base64EncodedSecret())
        }
    }

    struct Public: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a private key on standard input and print its public key, like `wg pubkey`.")

        func run() throws {
            var input: [UInt8] = []
            while let line = readLine(strippingNewline: false) {
                input += line.utf8
                guard input.count <= 1024 else { break }
            }
            defer { for index in input.indices { input[index] = 0 } }
            let text = String(decoding: input, as: UTF8.self).filter { !$0.isWhitespace }
            do {
                let key = try X25519PrivateKey(base64: text)
                print(key.publicKey.base64)
            } catch {
                throw CommandFailure(
                    "standard input is not a private key (\(error)); expected one line of base64 as printed by "
                        + "`meshctl key generate` or `wg genkey`")
            }
        }
    }
}
