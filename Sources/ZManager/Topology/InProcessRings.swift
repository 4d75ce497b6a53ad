import ZeroMQ

/// The rings of a node whose workers run in its own process (``ZManagerNode``): one from the
/// Subject to each worker, one from each worker to the Integration Manager.
///
/// The Subject deals steps over them (and over its worker endpoint, to workers in other
/// processes, as one more lane); the IM reads them fairly with its PULL. Each hop is then a
/// move of the `zmq_msg_t` into a slot and out again, with no libzmq pipe, mailbox or syscall
/// while the roles are busy (``MessageRing``). Each ring holds ``RoleLimits/highWaterMark``
/// frames, the same bound as the socket it stands in for.
struct InProcessRings {
    let toWorkers: [MessageRing]
    let toIntegrationManager: [MessageRing]
    let subjectBell = Doorbell()
    let integrationManagerBell = Doorbell()

    init(workers: Int, limit: Int) {
        let subjectBell = subjectBell, integrationManagerBell = integrationManagerBell
        toWorkers = (0..<workers).map { _ in MessageRing(limit: limit, producerBell: subjectBell) }
        toIntegrationManager = (0..<workers).map { _ in MessageRing(limit: limit, consumerBell: integrationManagerBell) }
    }

    /// Worker `index`'s two rings.
    func worker(_ index: Int) -> WorkerRings {
        WorkerRings(input: toWorkers[index], output: toIntegrationManager[index])
    }

    /// For the Subject's worker socket: deals to the rings, and to its bound endpoint's peers.
    func subjectPort() -> RingPort {
        RingPort(dispatcher: MessageDispatcher(rings: toWorkers, bell: subjectBell), alsoSocket: true)
    }

    /// For the IM's PULL: reads the workers' rings, and its bound endpoint's peers.
    func integrationManagerPort() -> RingPort {
        RingPort(collector: MessageCollector(rings: toIntegrationManager, bell: integrationManagerBell), alsoSocket: true)
    }
}

/// One worker's rings: steps in from the Subject, outputs out to the Integration Manager.
struct WorkerRings {
    let input: MessageRing
    let output: MessageRing
}
