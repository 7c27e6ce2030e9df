import MeshAgentCore
import MeshCore
import WireGuardControl

extension DevicePeerView {
    /// The view the path core plans with of a peer as the device reports it (handshake times are
    /// wall-clock seconds, as the agent's clock: ``AgentClock``).
    init(_ state: WireGuardPeerState) {
        let handshakeSeconds = state.lastHandshakeTime.map(\.components.seconds) ?? 0
        self.init(
            endpoint: state.endpoint, lastHandshake: handshakeSeconds > 0 ? Timestamp(seconds: UInt64(handshakeSeconds)) : nil,
            receivedBytes: state.receivedBytes, transmittedBytes: state.transmittedBytes)
    }
}
