/// The fixed part of docs/benchmarks.md: what each scenario does and what bounds it.
enum Notes {
    static let text = """
    ## What each scenario does

    Everything runs on loopback: a real `bus-broker` process per scenario (CURVE with ZAP,
    Ed25519 verification, durable group commit in SQLite WAL with `synchronous=FULL`), and
    the real node code of the `AgencyBus` library driven in-process by `bus-bench` (the same
    calls `bus-cli send` and `bus-cli subscribe` make: `AgencyNode.compose(batch:)` into the
    durable outbox, SUBMIT, `AgencyNode.handle` — verify, store in the inbox in one durable
    transaction, then the signed receipt). Receiving nodes run the `subscribe` loop on bench
    threads (one libzmq context and one `zmq_poll` per thread, up to 125 nodes per thread).

    - **S1** one sender, one recipient: 50,000 letters with 2 KiB bodies, then 2,000 letters
      with a 1 MiB attachment; time from the first SUBMIT to the last signed receipt back at
      the sender. Up to 1,024 (2 KiB) or 24 (1 MiB) letters unaccepted in flight.
    - **S2** one letter every 2 ms for 20 s; latency from SUBMIT (the letter already in the
      durable outbox) to the moment the recipient's inbox transaction committed.
    - **S3** 500 subscribed nodes; one circular (one letter, 500 recipients) timed from SUBMIT to
      the last inbox commit; then 100 such circulars back to back (50,000 deliveries).
    - **S4** 100,000 letters queued for a node that is offline; time from its connecting to the
      last inbox commit; broker RSS sampled every 20 ms during the drain (peak reported).
    - **S5** a broker store generated with 1,000,000 letters (all but 1,000 delivered, with
      their items and trace events) plus a 200-item disposition tree; time from spawning
      `bus-broker` to the first ACCEPTED of a new submission (TCP connect, CURVE handshake,
      ZAP, durable commit included), compared with the same on an empty store.
    - **S6** trace: `AgencyNode.trace` (new CURVE connection, TRACE, answer from the 1,000,000-
      message store) plus building and rendering the tree, as `bus-cli trace` does. Inbox page,
      search and agenda: what `bus-cli inbox`, `search` and `agenda` do, on a node inbox of
      1,000,000 letters generated with `NodeStore.insert` (spread over 365 days, so a day holds
      about 2,700 letters), and, for issue 6, on the 100,000 letters S4 delivered (all today).

    Datasets for S5/S6 are generated straight into SQLite through the library's store APIs in
    transactions of 20,000 (setup; not timed). Letters in them are really signed.

    ## Limits and ratios

    - (a) A raw DEALER→ROUTER→ROUTER→DEALER forwarder written for the bench (one forwarder
      thread, no persistence, no signatures), with and without CURVE, at 2 KiB and 1 MiB, and
      its one-way latency at 2,000 msg/s.
    - (b) Ed25519 sign and verify of a 2 KiB message on one core (libsodium). The crypto-bound
      relay rate is cores ÷ (1 sign + 2 verifies): every letter is signed by its sender and
      verified by the broker and by the recipient (acceptances and receipts are batched and
      left out, so the real bound is a little lower). CURVE cost is the per-message difference
      of the forwarder with and without CURVE.
    - (c) SQLite WAL `synchronous=FULL` on this disk through `SQLiteConnection`: one 2 KiB row
      per commit, 100 rows per commit, and 1 MiB blobs 8 per commit.

    Which limit bounds what: S1 2 KiB by the crypto-bound rate (and the machine's 2 cores are
    shared by sender, broker and recipient); S1 1 MiB by the forwarder with CURVE and the
    SQLite blob rate (the attachment is written durably three times: sender outbox, broker,
    recipient inbox); S2 by two fsync'd commits on the path (broker accept, inbox) plus the raw
    hop; S3 by one fsync'd inbox commit per recipient node; S4 by the recipient's verification
    on its one thread; S5 by the same restart on an empty store; S6's trace by the trace of a
    one-item letter (connection + round trip).

    ## Scale options

    `bus-bench --quick` (or `make bench-quick`) runs every scenario scaled down (3,000 + 100
    letters, 4 s at 500/s, 50 nodes and 10 circulars, 5,000 backlog, 20,000-message stores) to
    check the bench works. `--only s1,s3` picks scenarios; `--keep --work DIR` keeps the stores.
    """
}
