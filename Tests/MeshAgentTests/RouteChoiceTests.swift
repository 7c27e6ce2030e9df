@testable import MeshAgentCore
import MeshCore
import Testing

/// Issue 12: one gateway per prefix, the best usable one; failover at once, fail-back after the hold-down.
@Suite struct RouteChoiceTests {
    let site = IPPrefix("192.168.10.0/24")!
    let gw1 = NodeID(0x1), gw2 = NodeID(0x2)
    func name(_ id: NodeID) -> String { "gw\(id.value)" }

    func choice(preempt: Bool = true) -> RouteChoice {
        var settings = RouteChoice.Settings()
        settings.acceptance = .all
        settings.preempt = preempt
        return RouteChoice(settings: settings)
    }

    @Test func theHighestPriorityUsableGatewayCarriesThePrefix() {
        var routes = choice()
        let now = Timestamp(seconds: 100)
        let changed1 = routes.update(offers: [site: [.init(member: gw2, priority: 100), .init(member: gw1, priority: 150)]], name: name, now: now)
        #expect(changed1)
        #expect(routes.active(for: site) == gw1)
        #expect(routes.carried(by: gw1) == [site])
        #expect(routes.carried(by: gw2).isEmpty)
        // Equal priorities: the lowest node ID, as every member chooses.
        var tie = choice()
        tie.update(offers: [site: [.init(member: gw2, priority: 100), .init(member: gw1, priority: 100)]], name: name, now: now)
        #expect(tie.active(for: site) == gw1)
    }

    @Test func aGatewayThatFailsHandsThePrefixOverAtOnceAndGetsItBackAfterTheHoldDown() {
        var routes = choice()
        var now = Timestamp(seconds: 100)
        routes.update(offers: [site: [.init(member: gw1, priority: 150), .init(member: gw2, priority: 100)]], name: name, now: now)
        now = now + .seconds(1)
        let changed2 = routes.update(offers: [site: [.init(member: gw1, priority: 150, unusable: "is dead"), .init(member: gw2, priority: 100)]], name: name, now: now)
        #expect(changed2)
        #expect(routes.active(for: site) == gw2)
        #expect(routes.prefixes[site]?.reason == "gw1 is dead")
        // gw1 back: not before the hold-down.
        now = now + .seconds(5)
        let back: [IPPrefix: [RouteChoice.Candidate]] = [site: [.init(member: gw1, priority: 150), .init(member: gw2, priority: 100)]]
        let changed3 = routes.update(offers: back, name: name, now: now)
        #expect(!changed3)
        #expect(routes.active(for: site) == gw2)
        #expect(routes.nextDeadline(after: now) == now + .seconds(10))
        now = now + .seconds(10)
        let changed4 = routes.update(offers: back, name: name, now: now)
        #expect(changed4)
        #expect(routes.active(for: site) == gw1)
        #expect(routes.nextDeadline(after: now) == .distantFuture)
    }

    @Test func withoutPreemptionTheCurrentGatewayKeepsThePrefix() {
        var routes = choice(preempt: false)
        var now = Timestamp(seconds: 100)
        routes.update(offers: [site: [.init(member: gw1, priority: 150, unusable: "is dead"), .init(member: gw2, priority: 100)]], name: name, now: now)
        #expect(routes.active(for: site) == gw2)
        now = now + .seconds(60)
        let changed5 = routes.update(offers: [site: [.init(member: gw1, priority: 150), .init(member: gw2, priority: 100)]], name: name, now: now)
        #expect(!changed5)
        #expect(routes.active(for: site) == gw2)
    }

    @Test func aWithdrawnPrefixMovesAndOneWithNoGatewayLeaves() {
        var routes = choice()
        var now = Timestamp(seconds: 100)
        routes.update(offers: [site: [.init(member: gw1, priority: 150), .init(member: gw2, priority: 100)]], name: name, now: now)
        now = now + .seconds(1)
        // gw1 no longer serves it (its health check failed): it is not offered by gw1 at all.
        let changed6 = routes.update(offers: [site: [.init(member: gw2, priority: 100)]], name: name, now: now)
        #expect(changed6)
        #expect(routes.active(for: site) == gw2)
        #expect(routes.prefixes[site]?.reason == "gw1 withdrew the prefix")
        let changed7 = routes.update(offers: [site: [.init(member: gw2, priority: 100, unusable: "has no path (cut)")]], name: name, now: now)
        #expect(changed7)
        #expect(routes.active(for: site) == nil)
        #expect(routes.routed.isEmpty)
        let changed8 = routes.update(offers: [:], name: name, now: now)
        #expect(changed8 == false)
        #expect(routes.prefixes.isEmpty)
    }

    /// Issue 12 point 3: a named exit ranks before every other (whatever the priorities); while it
    /// is down the best other exit carries the default route, and it gets it back after the hold-down.
    @Test func theChosenExitCarriesTheDefaultRouteAndAnotherStandsInWhileItIsDown() {
        var routes = choice()
        let everywhere = IPPrefix.defaultIPv4
        var now = Timestamp(seconds: 100)
        let both: [IPPrefix: [RouteChoice.Candidate]] = [everywhere: [.init(member: gw1, priority: 200), .init(member: gw2, priority: 100, preferred: true)]]
        routes.update(offers: both, name: name, now: now)
        #expect(routes.active(for: everywhere) == gw2)
        #expect(routes.prefixes[everywhere]?.reason == "the chosen exit")
        now = now + .seconds(1)
        routes.update(offers: [everywhere: [.init(member: gw1, priority: 200), .init(member: gw2, priority: 100, unusable: "is dead", preferred: true)]], name: name, now: now)
        #expect(routes.active(for: everywhere) == gw1)
        #expect(routes.prefixes[everywhere]?.reason == "gw2 is dead")
        now = now + .seconds(1)
        routes.update(offers: both, name: name, now: now)
        #expect(routes.active(for: everywhere) == gw1, "not before the hold-down")
        now = now + .seconds(10)
        let changed = routes.update(offers: both, name: name, now: now)
        #expect(changed)
        #expect(routes.active(for: everywhere) == gw2)
        #expect(routes.prefixes[everywhere]?.reason.contains("is the chosen exit") == true)
    }

    /// A gateway silent since its path failed (a relay granted the pair, but its end is dead)
    /// carries the prefix only when no sound one is left, and does not get it back while silent
    /// (the simulator's gateway-dies scenario found it taken back 6.6 s after a crash).
    @Test func aGatewayInDoubtIsALastResort() {
        var routes = choice()
        var now = Timestamp(seconds: 100)
        routes.update(offers: [site: [.init(member: gw1, priority: 150), .init(member: gw2, priority: 100)]], name: name, now: now)
        now = now + .seconds(1)
        let doubtful: [IPPrefix: [RouteChoice.Candidate]] = [site: [.init(member: gw1, priority: 150, doubt: "has no path (cut)"), .init(member: gw2, priority: 100)]]
        routes.update(offers: doubtful, name: name, now: now)
        #expect(routes.active(for: site) == gw2)
        #expect(routes.prefixes[site]?.reason == "gw1 has no path (cut)")
        now = now + .seconds(30)
        routes.update(offers: doubtful, name: name, now: now)
        #expect(routes.active(for: site) == gw2, "not back while it stays silent")
        #expect(routes.nextDeadline(after: now) == .distantFuture)
        // The only gateway left is in doubt: better it than none.
        routes.update(offers: [site: [.init(member: gw1, priority: 150, doubt: "has no path (cut)"), .init(member: gw2, priority: 100, unusable: "is dead")]], name: name, now: now)
        #expect(routes.active(for: site) == gw1)
    }

    @Test func exitChoicesReadFromText() {
        #expect(RouteChoice.ExitChoice("none") == RouteChoice.ExitChoice.none)
        #expect(RouteChoice.ExitChoice("auto") == .auto)
        #expect(RouteChoice.ExitChoice("exit-1") == .member("exit-1"))
        #expect(RouteChoice.ExitChoice("not a name") == nil)
    }

    @Test func acceptanceLimitsThePrefixesTaken() {
        #expect(!RouteChoice.Acceptance.none.accepts(site))
        #expect(RouteChoice.Acceptance.all.accepts(site))
        #expect(RouteChoice.Acceptance.within([IPPrefix("192.168.0.0/16")!]).accepts(site))
        #expect(!RouteChoice.Acceptance.within([IPPrefix("10.0.0.0/8")!]).accepts(site))
    }
}

/// Issue 12: a gateway withdraws a route whose link is down, and serves it again when it is up.
@Suite struct ServedRouteHealthTests {
    let site = ServedRoute(prefix: IPPrefix("192.168.10.0/24")!, priority: 150)
    let other = ServedRoute(prefix: IPPrefix("10.9.0.0/16")!)

    @Test func aRouteIsServedOnlyWhileItsLinkIsUp() {
        var health = ServedRouteHealth()
        let configured = [ServedRouteHealth.Configured(route: site, link: "lan1"), ServedRouteHealth.Configured(route: other)]
        let now = Timestamp(seconds: 10)
        let up = health.evaluate(configured, links: ["lan1": true], now: now)
        #expect(up.served == [site, other] && up.changed.isEmpty)
        let down = health.evaluate(configured, links: ["lan1": false], now: now + .seconds(1))
        #expect(down.served == [other])
        #expect(down.changed.map(\.prefix) == [site.prefix] && down.changed.first?.withdrawn == "health check: link lan1 is down")
        #expect(health.withdrawn[site.prefix]?.since == now + .seconds(1))
        // Still down: nothing new to log, and the time it went down is kept.
        let still = health.evaluate(configured, links: ["lan1": false], now: now + .seconds(5))
        #expect(still.changed.isEmpty && health.withdrawn[site.prefix]?.since == now + .seconds(1))
        let gone = health.evaluate(configured, links: [:], now: now + .seconds(6))
        #expect(gone.changed.first?.withdrawn == "health check: link lan1 does not exist")
        let back = health.evaluate(configured, links: ["lan1": true], now: now + .seconds(7))
        #expect(back.served == [site, other] && back.changed.count == 1 && back.changed[0].withdrawn == nil)
        #expect(health.withdrawn.isEmpty)
    }
}

extension ServedRouteHealthTests {
    @Test func aRouteIsWithdrawnWhileItsTargetDoesNotAnswer() {
        var health = ServedRouteHealth()
        let target = IPAddress("192.168.10.1")!
        let configured = [ServedRouteHealth.Configured(route: site, target: target, timeout: .milliseconds(300))]
        let start = Timestamp(seconds: 10)
        // Not pinging yet: served.
        #expect(health.evaluate(configured, links: [:], now: start).served == [site])
        health.probingSince = start
        #expect(health.evaluate(configured, links: [:], now: start + .milliseconds(299)).served == [site], "a new check gets its timeout")
        let silent = health.evaluate(configured, links: [:], now: start + .milliseconds(300))
        #expect(silent.served.isEmpty && silent.changed.first?.withdrawn == "health check: 192.168.10.1 unanswered for 300 ms")
        health.answeredAt[target] = start + .milliseconds(400)
        #expect(health.evaluate(configured, links: [:], now: start + .milliseconds(500)).served == [site])
        #expect(health.evaluate(configured, links: [:], now: start + .milliseconds(700)).served.isEmpty)
    }
}
