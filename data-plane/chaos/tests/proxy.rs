//! The fault-injecting proxy on loopback: an echo server stands in for a
//! broker's peer port; clients dial the proxy's link listeners.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fjord_chaos::proxy::{LinkSpec, Mode, Proxy, Setting};

/// Hang guard for reads that must succeed; never a pass/fail criterion.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

struct Echo {
    address: SocketAddr,
    accepted: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
}

/// An echo server counting connections and bytes received.
fn echo() -> Echo {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let (accepted_count, received_count) = (Arc::clone(&accepted), Arc::clone(&received));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            accepted_count.fetch_add(1, Ordering::SeqCst);
            let received = Arc::clone(&received_count);
            std::thread::spawn(move || {
                let mut buffer = [0; 4096];
                while let Ok(read) = stream.read(&mut buffer) {
                    // Counted before the echo, so a client that read it sees the count.
                    received.fetch_add(read as u64, Ordering::SeqCst);
                    if read == 0 || stream.write_all(&buffer[..read]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Echo {
        address,
        accepted,
        received,
    }
}

/// Links 1->2 and 2->1, both to the echo server.
fn proxy_to(echo: &Echo) -> Proxy {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let link = |from, to| LinkSpec {
        from,
        to,
        listen: any,
        upstream: echo.address,
    };
    Proxy::start(&[link(1, 2), link(2, 1), link(1, 3)]).unwrap()
}

fn dial(proxy: &Proxy, from: u32, to: u32) -> TcpStream {
    let stream = TcpStream::connect(proxy.address(from, to).unwrap()).unwrap();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream
}

fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    stream.write_all(message).unwrap();
    let mut answer = vec![0; message.len()];
    stream.read_exact(&mut answer).unwrap();
    answer
}

/// True once the connection is closed by the other end (EOF or reset).
fn is_closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(error) => !matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

/// Polls `condition` with a hang guard.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + READ_TIMEOUT;
    while !condition() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_open_link_forwards_both_ways() {
    let echo = echo();
    let proxy = proxy_to(&echo);
    let mut stream = dial(&proxy, 1, 2);
    assert_eq!(round_trip(&mut stream, b"append"), b"append");
    assert_eq!(round_trip(&mut stream, b"heartbeat"), b"heartbeat");
    // Counted after each write completes, which may be after the echo is read.
    let forwarded = || {
        proxy
            .counts(1, 2)
            .unwrap()
            .forwarded_bytes
            .load(Ordering::SeqCst)
    };
    eventually("both directions are counted", || forwarded() == 30);
}

#[test]
fn a_cut_link_closes_its_connections_and_refuses_new_ones_until_healed() {
    let echo = echo();
    let proxy = proxy_to(&echo);
    let mut before = dial(&proxy, 1, 2);
    assert_eq!(round_trip(&mut before, b"x"), b"x");

    proxy.cut(1, 2, false).unwrap();
    assert!(is_closed(&mut before), "the existing connection stays open");
    let mut refused = dial(&proxy, 1, 2);
    let _ = refused.write_all(b"lost");
    assert!(is_closed(&mut refused), "a new connection is served");
    assert!(proxy.counts(1, 2).unwrap().refused.load(Ordering::SeqCst) >= 1);

    proxy.heal(1, 2).unwrap();
    let mut after = dial(&proxy, 1, 2);
    assert_eq!(round_trip(&mut after, b"again"), b"again");
}

#[test]
fn a_one_way_cut_leaves_the_other_direction_and_other_links_open() {
    let echo = echo();
    let proxy = proxy_to(&echo);
    proxy.cut(1, 2, false).unwrap();
    let mut reverse = dial(&proxy, 2, 1);
    assert_eq!(round_trip(&mut reverse, b"reply"), b"reply");
    let mut other = dial(&proxy, 1, 3);
    assert_eq!(round_trip(&mut other, b"third"), b"third");
    assert_eq!(proxy.setting(1, 2).unwrap().mode, Mode::Refuse);
    assert_eq!(proxy.setting(2, 1).unwrap(), Setting::HEALED);
}

#[test]
fn isolating_a_node_cuts_every_link_touching_it() {
    let echo = echo();
    let proxy = proxy_to(&echo);
    proxy.isolate(2, false).unwrap();
    assert_eq!(proxy.setting(1, 2).unwrap().mode, Mode::Refuse);
    assert_eq!(proxy.setting(2, 1).unwrap().mode, Mode::Refuse);
    assert_eq!(proxy.setting(1, 3).unwrap(), Setting::HEALED);
    proxy.heal_all();
    let mut stream = dial(&proxy, 2, 1);
    assert_eq!(round_trip(&mut stream, b"back"), b"back");
}

#[test]
fn a_blackholed_link_accepts_and_swallows_everything_and_healing_closes_the_connection() {
    let echo = echo();
    let proxy = proxy_to(&echo);
    let mut existing = dial(&proxy, 1, 2);
    assert_eq!(round_trip(&mut existing, b"before"), b"before");
    let received_before = echo.received.load(Ordering::SeqCst);
    let accepted_before = echo.accepted.load(Ordering::SeqCst);

    proxy.cut(1, 2, true).unwrap();
    let mut fresh = dial(&proxy, 1, 2);
    // Writes succeed: the sender sees no error.
    existing.write_all(b"into the void").unwrap();
    fresh.write_all(b"also lost").unwrap();
    let dropped = || {
        proxy
            .counts(1, 2)
            .unwrap()
            .dropped_bytes
            .load(Ordering::SeqCst)
    };
    eventually("both writes are swallowed", || dropped() >= 22);
    assert_eq!(echo.received.load(Ordering::SeqCst), received_before);
    assert_eq!(
        echo.accepted.load(Ordering::SeqCst),
        accepted_before,
        "a blackholed connection must not reach the upstream"
    );

    // Bytes were lost mid-stream: healing closes both connections.
    proxy.heal(1, 2).unwrap();
    assert!(is_closed(&mut existing));
    assert!(is_closed(&mut fresh));
    let mut after = dial(&proxy, 1, 2);
    assert_eq!(round_trip(&mut after, b"healed"), b"healed");
    assert_eq!(echo.received.load(Ordering::SeqCst), received_before + 6);
}

#[test]
fn a_delayed_link_holds_every_chunk_at_least_the_delay_and_keeps_order() {
    let echo = echo();
    let proxy = proxy_to(&echo);
    let delay = Duration::from_millis(300);
    proxy.delay(1, 2, delay).unwrap();
    assert_eq!(proxy.setting(1, 2).unwrap().mode, Mode::Open);
    let mut stream = dial(&proxy, 1, 2);
    let started = Instant::now();
    for chunk in [&b"one "[..], b"two ", b"three"] {
        stream.write_all(chunk).unwrap();
    }
    let mut answer = vec![0; 13];
    stream.read_exact(&mut answer).unwrap();
    // A lower bound only: a slow machine makes it later, never earlier.
    // Both directions are delayed, so the echo took at least twice the delay.
    assert!(
        started.elapsed() >= delay * 2,
        "arrived early: {:?}",
        started.elapsed()
    );
    assert_eq!(answer, b"one two three");

    proxy.heal(1, 2).unwrap();
    assert_eq!(proxy.setting(1, 2).unwrap(), Setting::HEALED);
    assert_eq!(
        round_trip(&mut stream, b"kept"),
        b"kept",
        "healing a delay keeps the connection"
    );
}

#[test]
fn an_unknown_link_is_an_error() {
    let echo = echo();
    let proxy = proxy_to(&echo);
    assert!(proxy.cut(3, 1, false).is_err());
    assert!(proxy.address(2, 3).is_err());
    let mut twice = proxy.links()[0];
    twice.listen = "127.0.0.1:0".parse().unwrap();
    let refused = Proxy::start(&[twice, twice]).unwrap_err();
    assert!(refused.to_string().contains("given twice"), "{refused}");
}

#[test]
fn closing_the_sending_side_reaches_the_upstream_through_the_proxy() {
    let echo = echo();
    let proxy = proxy_to(&echo);
    let mut stream = dial(&proxy, 1, 2);
    stream.write_all(b"last words").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    // The echo answers, sees end of stream and closes; that close comes back.
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"last words");
}
