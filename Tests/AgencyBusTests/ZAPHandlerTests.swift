import Foundation
import Testing
@testable import AgencyBus

private func text(_ d: Data) -> String { String(decoding: d, as: UTF8.self) }

@Suite("ZAPHandler")
struct ZAPHandlerTests {
    let agencyKey = SecretKey.generate()
    let operatorKey = SecretKey.generate()
    let keyless = SecretKey.generate()
    let handler: ZAPHandler

    init() {
        let topology = Topology(
            brokers: [.init(id: "nasional", endpoint: "tcp://127.0.0.1:7450", publicKey: SecretKey.generate().publicKey.text)],
            agencies: [
                .init(id: "pemkot-semarang", name: "Pemkot Semarang", broker: "nasional", publicKey: agencyKey.publicKey.text, units: [], timeZone: nil),
                .init(id: "anri", name: "ANRI", broker: "nasional", publicKey: "", units: [], timeZone: nil),
            ],
            operators: [.init(id: "ops-nasional", publicKey: operatorKey.publicKey.text)])
        handler = ZAPHandler(topology: topology)
    }

    /// A ZAP request as libzmq sends it (RFC 27): version, request id, domain, address,
    /// routing id, mechanism, then the mechanism's credentials.
    private func request(mechanism: String = "CURVE", credentials: [Data], requestID: String = "req-7") -> [Data] {
        [Data("1.0".utf8), Data(requestID.utf8), Data("agencybus".utf8), Data("10.1.2.3".utf8), Data(), Data(mechanism.utf8)] + credentials
    }

    private func expectReply(_ d: ZAPHandler.Decision, status: String, user: String, requestID: String = "req-7",
                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(d.reply.count == 6, sourceLocation: sourceLocation)
        guard d.reply.count == 6 else { return }
        #expect(text(d.reply[0]) == "1.0", sourceLocation: sourceLocation)
        #expect(text(d.reply[1]) == requestID, sourceLocation: sourceLocation)
        #expect(text(d.reply[2]) == status, sourceLocation: sourceLocation)
        #expect(!d.reply[3].isEmpty, "status text", sourceLocation: sourceLocation)
        #expect(text(d.reply[4]) == user, sourceLocation: sourceLocation)
        #expect(d.reply[5].isEmpty, "metadata", sourceLocation: sourceLocation)
    }

    @Test func admittedAgencyKey() {
        let d = handler.handle(request(credentials: [agencyKey.publicKey.curvePublicKey]))
        expectReply(d, status: "200", user: "agency:pemkot-semarang")
        #expect(d.identity == .agency("pemkot-semarang"))
        #expect(d.address == "10.1.2.3")
        #expect(d.mechanism == "CURVE")
    }

    @Test func admittedOperatorKey() {
        let d = handler.handle(request(credentials: [operatorKey.publicKey.curvePublicKey]))
        expectReply(d, status: "200", user: "operator:ops-nasional")
        #expect(d.identity == .operator("ops-nasional"))
    }

    @Test func unknownKeyIsRefused() {
        let d = handler.handle(request(credentials: [keyless.publicKey.curvePublicKey]))
        expectReply(d, status: "400", user: "")
        #expect(d.identity == nil)
    }

    @Test func ed25519BytesAreNotTheCurveKey() {
        // The topology holds Ed25519 keys; CURVE presents the derived X25519 key. The raw
        // Ed25519 bytes must not be admitted by accident.
        let d = handler.handle(request(credentials: [agencyKey.publicKey.bytes]))
        expectReply(d, status: "400", user: "")
    }

    @Test(arguments: ["NULL", "PLAIN", "GSSAPI", "curve", ""])
    func nonCurveMechanismIsRefused(mechanism: String) {
        let credentials = mechanism == "PLAIN" ? [Data("user".utf8), Data("pass".utf8)] : [agencyKey.publicKey.curvePublicKey]
        let d = handler.handle(request(mechanism: mechanism, credentials: credentials))
        expectReply(d, status: "400", user: "")
        #expect(d.identity == nil)
        #expect(d.mechanism == mechanism)
    }

    @Test func curveWithoutAProperKeyIsRefused() {
        for credentials in [[], [Data()], [agencyKey.publicKey.curvePublicKey.dropLast()], [agencyKey.publicKey.curvePublicKey + Data([0])]] {
            let d = handler.handle(request(credentials: credentials.map { Data($0) }))
            expectReply(d, status: "400", user: "")
        }
    }

    @Test func malformedRequests() {
        let good = request(credentials: [agencyKey.publicKey.curvePublicKey])
        // Too few frames.
        for n in 0..<6 {
            let d = handler.handle(Array(good.prefix(n)))
            #expect(d.reply.count == 6)
            #expect(text(d.reply[2]) == "500", "\(n) frames")
            #expect(d.identity == nil)
            // The request id is echoed when there is one, so libzmq can match the reply.
            #expect(d.reply[1] == (n > 1 ? good[1] : Data()))
        }
        // Wrong version.
        var wrong = good
        wrong[0] = Data("2.0".utf8)
        let d = handler.handle(wrong)
        #expect(text(d.reply[2]) == "500")
        #expect(d.identity == nil)
    }

    @Test func keysAddedLaterAreNotSeen() {
        // The handler is built from the topology it was given; an agency without a key is
        // never admitted (not even with an all-zero key).
        let d = handler.handle(request(credentials: [Data(count: 32)]))
        expectReply(d, status: "400", user: "")
    }

    @Test func revokedKeysAreNotAdmitted() {
        let revoked = SecretKey.generate(), revokedOperator = SecretKey.generate()
        let topology = Topology(
            brokers: [.init(id: "nasional", endpoint: "tcp://127.0.0.1:7450", publicKey: "")],
            agencies: [
                .init(id: "anri", name: "ANRI", broker: "nasional", publicKey: revoked.publicKey.text, units: [], timeZone: nil, revoked: true),
                .init(id: "pemkot-semarang", name: "Pemkot Semarang", broker: "nasional", publicKey: agencyKey.publicKey.text,
                      units: [], timeZone: nil, revoked: false),
            ],
            operators: [.init(id: "ops", publicKey: revokedOperator.publicKey.text, revoked: true)])
        let zap = ZAPHandler(topology: topology)
        expectReply(zap.handle(request(credentials: [revoked.publicKey.curvePublicKey])), status: "400", user: "")
        expectReply(zap.handle(request(credentials: [revokedOperator.publicKey.curvePublicKey])), status: "400", user: "")
        expectReply(zap.handle(request(credentials: [agencyKey.publicKey.curvePublicKey])), status: "200", user: "agency:pemkot-semarang")
        #expect(zap.admittedKeys == [agencyKey.publicKey.curvePublicKey: .agency("pemkot-semarang")])
    }

    @Test func admittedKeysListsEveryKeyedEntry() {
        #expect(handler.admittedKeys == [agencyKey.publicKey.curvePublicKey: .agency("pemkot-semarang"),
                                         operatorKey.publicKey.curvePublicKey: .operator("ops-nasional")])
    }

    @Test func peerIdentityUserIDRoundTrip() {
        for identity in [PeerIdentity.agency("pemkot-semarang"), .operator("ops-nasional")] {
            #expect(PeerIdentity(userID: identity.userID) == identity)
        }
        #expect(PeerIdentity.agency("x").userID == "agency:x")
        #expect(PeerIdentity(userID: "") == nil)
        #expect(PeerIdentity(userID: "admin:root") == nil)
        #expect(PeerIdentity(userID: "Agency:x") == nil)
    }

    @Test func endpointAndDomain() {
        #expect(ZAPHandler.endpoint == "inproc://zeromq.zap.01")
        #expect(ZAPHandler.domain == "agencybus")
    }
}
