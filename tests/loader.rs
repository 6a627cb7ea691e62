//! The loader against the simulated ESP32, in virtual time: ROM and stub, 115200 and 921600,
//! round trips, skip-unchanged, faults, fall-backs. (What the board holds and boots, slots and
//! otadata: tests/device.rs.)
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use otaflash::formats::md5;
use otaflash::loader::stub::StubImage;
use otaflash::loader::{Error, Loader, NoAnswer, Refusal, Reset, WriteOptions};
use otaflash::sim::{SimPort, Timing};

fn stub() -> StubImage {
    StubImage::embedded(otaflash::chips::ESP32)
        .expect("run scripts/setup.sh: it fetches the flasher stub")
}

/// Connected loader; with the stub when `with_stub`; at `baud`.
fn connected(port: SimPort, with_stub: bool, baud: u32) -> Loader<SimPort> {
    block_on(async {
        let mut l = Loader::new(port);
        l.connect(Reset::Classic, 3).await.unwrap();
        if with_stub {
            l.run_stub(&stub()).await.unwrap();
        }
        assert_eq!(l.change_baud(baud).await.unwrap(), baud);
        l
    })
}

#[test]
fn connect_identifies_the_chip() {
    block_on(async {
        let mut l = Loader::new(port(Timing::REALISTIC));
        let info = l.connect(Reset::Classic, 3).await.unwrap();
        assert_eq!(info.chip.name, "esp32");
        assert_eq!(info.description, "ESP32-D0WD-V3 (revision v3.1)");
        assert_eq!(info.mac_string(), "24:0a:c4:0e:51:4d");
        assert_eq!(info.crystal_mhz, 40);
        assert!(!l.is_stub());
        let f = l.flash_info().await.unwrap();
        assert_eq!((f.jedec_id, f.size), (0x1640EF, 4 << 20));
        let console = String::from_utf8_lossy(&l.take_console()).to_string();
        assert!(console.contains("waiting for download"), "{console:?}");
    });
}

/// A board whose EN rises 200 ms after the host releases it (a large capacitor on EN): with
/// the boot pin held the usual 50 ms the chip samples it high and boots its app; the next
/// attempt holds it 500 ms (espflash's and esptool's sequence) and the ROM loader answers.
#[test]
fn a_board_with_a_slow_en_circuit_enters_download_mode_on_the_longer_hold() {
    let slow = || port_with(|c| c.en_rise = std::time::Duration::from_millis(200));
    block_on(async {
        // One attempt (the short hold) is not enough: the model bites.
        let mut l = Loader::new(slow());
        let e = l.connect(Reset::Classic, 1).await.unwrap_err();
        assert!(
            matches!(e, Error::NoAnswer(NoAnswer::DownloadMode { ref console }) if console.contains("Loaded app from partition")),
            "booted its app: {e:?}"
        );
        let mut l = Loader::new(slow());
        let logged = std::rc::Rc::new(std::cell::RefCell::new(vec![]));
        let log = logged.clone();
        l.on_event(move |e| {
            if let otaflash::loader::Event::Log(m) = e {
                log.borrow_mut().push(m)
            }
        });
        let info = l.connect(Reset::Classic, 2).await.unwrap();
        assert_eq!(info.chip.name, "esp32");
        assert!(
            logged
                .borrow()
                .iter()
                .any(|m| m.contains("holding BOOT longer")),
            "{:?}",
            logged.borrow()
        );
        // Auto (USB ids unknown) gets there too: short hold, USB-JTAG, long hold.
        let mut l = Loader::new(slow());
        l.connect(Reset::Auto, 3).await.unwrap();
    });
}

#[test]
fn connect_with_auto_reset_and_no_reset() {
    block_on(async {
        // Auto tries classic first; the simulated board has the classic circuit.
        let mut l = Loader::new(port(Timing::REALISTIC));
        l.connect(Reset::Auto, 2).await.unwrap();
        // A chip already in download mode needs no reset.
        let mut l = Loader::new(port(Timing::REALISTIC));
        l.connect(Reset::None, 1).await.unwrap();
        // The USB-JTAG sequence does not reach download mode through a classic circuit: the
        // chip boots its app, and the error says what to do.
        let mut p = port(Timing::REALISTIC);
        p.dev.reset(std::time::Duration::ZERO, false);
        let mut l = Loader::new(p);
        let e = l.connect(Reset::UsbJtag, 2).await.unwrap_err();
        assert!(
            matches!(e, Error::NoAnswer(NoAnswer::DownloadMode { ref console }) if console.contains("Loaded app from partition at offset 0x10000")),
            "console kept: {e:?}"
        );
        assert!(
            e.to_string().contains("did not answer in download mode"),
            "{e}"
        );
        // What to try is apart from the message, and fits the link.
        use otaflash::chips::UsbLink;
        use otaflash::loader::{Hint, Via};
        let usb: Vec<&str> = e
            .hints(Via::Serial(None))
            .iter()
            .map(|h| h.text())
            .collect();
        assert!(
            usb.iter().any(|h| h.contains("BOOT"))
                && usb.iter().any(|h| h.contains("data USB cable"))
        );
        // On the chip's own USB: BOOT by hand there; no bridge driver to install. On USB-OTG,
        // also that the port comes back under a new name.
        let jtag = e.hints(Via::Serial(Some(UsbLink::SerialJtag)));
        assert_eq!(jtag[0], Hint::NativeUsbBoot);
        assert!(!jtag.contains(&Hint::Driver));
        let s2 = otaflash::chips::Chip::by_name("esp32s2").unwrap();
        assert!(e
            .hints(Via::Serial(Some(UsbLink::Otg(s2))))
            .contains(&Hint::PickPortAgain));
        let bridge: Vec<&str> = e.hints(Via::Network).iter().map(|h| h.text()).collect();
        assert!(
            !bridge
                .iter()
                .any(|h| h.contains("cable") || h.contains("driver")),
            "{bridge:?}"
        );
    });
}

fn round_trip(with_stub: bool, baud: u32) {
    let mut l = connected(port(Timing::REALISTIC), with_stub, baud);
    block_on(async {
        let image = firmware_like(300_000);
        let r = l
            .write_flash(0x150000, &image, WriteOptions::default())
            .await
            .unwrap();
        assert_eq!(r.written, image.len() as u64);
        assert!(r.wire_bytes < image.len() as u64, "compressed");
        // Read back a part (the ROM reads 64 bytes per command).
        let n = if with_stub {
            image.len() as u32
        } else {
            0x2000
        };
        let back = l.read_flash(0x150000, n).await.unwrap();
        assert_eq!(back, image[..n as usize]);
        assert_eq!(
            l.flash_md5(0x150000, image.len() as u32).await.unwrap(),
            md5(&image)
        );
        // Erase a region, and it reads back as 0xFF.
        l.erase_region(0x150000, 0x2000).await.unwrap();
        assert_eq!(
            l.read_flash(0x150000, 0x80).await.unwrap(),
            vec![0xFF; 0x80]
        );
    });
    let flash = l.into_port().dev.flash;
    assert_eq!(
        flash.contents()[0x152000..0x150000 + 300_000],
        firmware_like(300_000)[0x2000..]
    );
}

#[test]
fn rom_at_115200() {
    round_trip(false, 115_200);
}

#[test]
fn rom_at_921600_with_crystal_correction() {
    round_trip(false, 921_600);
}

#[test]
fn stub_at_115200() {
    round_trip(true, 115_200);
}

#[test]
fn stub_at_921600() {
    round_trip(true, 921_600);
}

#[test]
fn rom_uncompressed_write() {
    let mut l = connected(port(Timing::REALISTIC), false, 115_200);
    block_on(async {
        let image = firmware_like(10_000);
        let opts = WriteOptions {
            skip_unchanged: false,
            compress: false,
            ..WriteOptions::default()
        };
        l.write_flash(0x150000, &image, opts).await.unwrap();
        assert_eq!(l.read_flash(0x150000, 10_000).await.unwrap(), image);
    });
}

#[test]
fn unchanged_regions_are_skipped() {
    let mut l = connected(port(Timing::REALISTIC), true, 921_600);
    block_on(async {
        let mut image = firmware_like(400_000);
        l.write_flash(0x150000, &image, WriteOptions::default())
            .await
            .unwrap();
        let again = l
            .write_flash(0x150000, &image, WriteOptions::default())
            .await
            .unwrap();
        assert_eq!(again.written, 0);
        // Said honestly: nothing written, no rate.
        let said = again.describe("app1");
        assert!(
            said.starts_with("app1: already holds these 400000 bytes (MD5 "),
            "{said}"
        );
        assert!(
            said.ends_with("matches); nothing written") && !said.contains("kbit/s"),
            "{said}"
        );
        image[200_000] ^= 0xFF;
        let one = l
            .write_flash(0x150000, &image, WriteOptions::default())
            .await
            .unwrap();
        assert_eq!(one.written, 0x10000, "only the changed 64 KiB region");
        let said = one.describe("app1");
        assert!(
            said.contains("400000 bytes verified")
                && said.contains("65536 written, 334464 already there"),
            "{said}"
        );
        // The rates: data written per second (effective) above what crossed the link.
        assert!(one.effective_kbit() > 0.0 && one.wire_kbit() > 0.0);
        assert!(
            said.contains("kbit/s effective") && said.contains("kbit/s on the wire"),
            "{said}"
        );
        assert_eq!(
            l.flash_md5(0x150000, image.len() as u32).await.unwrap(),
            md5(&image)
        );
    });
}

#[test]
fn rom_baud_change_without_correction_would_fail() {
    // The simulated ROM believes in a 41.5 MHz crystal: a plain CHANGE_BAUDRATE(921600) lands
    // 3.6 % off, which the UART does not tolerate. The loader's correction makes it work (see
    // rom_at_921600...), and a stub started after a ROM baud change inherits the skew.
    use otaflash::wire::command::Command;
    let mut l = connected(port(Timing::REALISTIC), false, 115_200);
    block_on(async {
        l.command(
            &Command::ChangeBaud {
                new: 921_600,
                old: 0,
            },
            0,
        )
        .await
        .unwrap();
        l.port().dev.set_host_baud(Some(921_600));
        let r = l.command(&Command::ReadReg { addr: 0x4000_1000 }, 0).await;
        assert!(r.is_err(), "{r:?}");
    });
}

#[test]
fn refuses_what_does_not_fit_and_unsupported_chips() {
    let mut l = connected(port(Timing::NONE), true, 921_600);
    block_on(async {
        let e = l
            .write_flash(0x3F0000, &vec![0u8; 0x20000], WriteOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Refused(Refusal::PastFlashEnd {
                    offset: 0x3F0000,
                    ..
                })
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains("past the end of the 4 MB flash"),
            "{e}"
        );
        let e = l.erase_region(0x1001, 0x1000).await.unwrap_err();
        assert!(matches!(e, Error::Refused(Refusal::Unaligned { .. })));
    });
}

// ---- faults ----

#[test]
fn corrupted_byte_in_a_block_is_retried() {
    // Byte 20000 host→device lands inside a data block: its checksum fails on the device.
    let p = port_with(|c| c.faults.corrupt_h2d = vec![40_000]);
    let mut l = connected(p, true, 921_600);
    block_on(async {
        let image = firmware_like(200_000);
        let r = l
            .write_flash(0x150000, &image, WriteOptions::default())
            .await
            .unwrap();
        assert!(r.retries >= 1, "{r:?}");
        assert_eq!(
            l.flash_md5(0x150000, image.len() as u32).await.unwrap(),
            md5(&image)
        );
    });
}

#[test]
fn dropped_bytes_either_way_are_survived() {
    for (h2d, d2h) in [
        (vec![30_000u64], vec![]),
        (vec![], vec![2_000u64]),
        (vec![25_000, 25_001, 60_000], vec![1_500]),
    ] {
        let p = port_with(|c| {
            c.faults.drop_h2d = h2d.clone();
            c.faults.drop_d2h = d2h.clone();
        });
        block_on(async {
            let mut l = Loader::new(p);
            l.connect(Reset::Classic, 3).await.unwrap();
            l.run_stub(&stub()).await.unwrap();
            l.change_baud(921_600).await.unwrap();
            let image = firmware_like(150_000);
            let r = l
                .write_flash(0x150000, &image, WriteOptions::default())
                .await
                .unwrap();
            assert_eq!(
                l.flash_md5(0x150000, image.len() as u32).await.unwrap(),
                md5(&image),
                "{r:?}"
            );
        });
    }
}

#[test]
fn disconnect_stops_with_a_clear_message() {
    let p = port_with(|c| c.faults.disconnect_after_h2d = Some(50_000));
    let mut l = connected(p, true, 921_600);
    block_on(async {
        let e = l
            .write_flash(0x150000, &firmware_like(300_000), WriteOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Port(_)), "{e:?}");
        assert!(e.to_string().contains("disconnected"), "{e}");
    });
}

// ---- other chips, fall-backs, a flash that does not take the data ----

#[test]
fn other_chips_are_detected_named_and_refused() {
    use otaflash::chips::Chip;
    for name in ["ESP32-C5", "ESP32-P4", "ESP32-C61"] {
        let chip = Chip::by_name(name).unwrap();
        let p = port_with(|c| c.chip = chip);
        block_on(async {
            let mut l = Loader::new(p);
            let info = l.connect(Reset::Classic, 2).await.unwrap();
            assert_eq!(info.chip.pretty, name);
            let e = l.run_stub(&stub()).await.unwrap_err();
            assert!(
                matches!(e, Error::Unsupported(ref m) if m.contains(name) && m.contains("not supported yet")),
                "{e}"
            );
            let e = l.flash_info().await.unwrap_err();
            assert!(e.to_string().contains("not supported yet"), "{e}");
        });
    }
}

/// Every chip after the ESP32: told by GET_SECURITY_INFO (the S2 by its magic value after a
/// short answer), described from its eFuses, flashed through its ROM (FLASH_BEGIN with the fifth
/// word, its baud switch — the C2's on a 26 MHz crystal included —, its SPI registers) and through
/// its own stub.
#[test]
fn every_later_chip_through_rom_and_stub() {
    for (name, description, revision) in [
        ("esp32s2", "ESP32-S2 (revision v1.0)", (1, 0)),
        ("esp32s3", "ESP32-S3 (QFN56) (revision v0.2)", (0, 2)),
        ("esp32c2", "ESP32-C2 (revision v1.0)", (1, 0)),
        ("esp32c3", "ESP32-C3 (QFN32) (revision v0.4)", (0, 4)),
        ("esp32c6", "ESP32-C6 (QFN40) (revision v0.2)", (0, 2)),
        ("esp32h2", "ESP32-H2 (revision v0.1)", (0, 1)),
    ] {
        chip_through_rom_and_stub(name, description, revision);
    }
}

fn chip_through_rom_and_stub(name: &str, description: &str, revision: (u32, u32)) {
    let chip = otaflash::chips::Chip::by_name(name).unwrap();
    for with_stub in [false, true] {
        let p = port_with(|c| c.chip = chip);
        block_on(async {
            let mut l = Loader::new(p);
            let info = l.connect(Reset::Classic, 2).await.unwrap();
            assert_eq!(info.chip.name, name);
            assert_eq!(info.description, description);
            assert_eq!(info.mac_string(), "24:0a:c4:0e:51:4d");
            assert_eq!(info.revision, revision);
            let console = String::from_utf8_lossy(&l.take_console()).to_string();
            let banner = chip.rom.unwrap().sim.banner.lines().next().unwrap();
            assert!(console.contains(banner), "{console:?}");
            if with_stub {
                let s = StubImage::embedded(chip).expect("run scripts/setup.sh");
                assert_ne!(s, stub(), "the chip's own stub");
                l.run_stub(&s).await.unwrap();
            }
            assert_eq!(l.change_baud(921_600).await.unwrap(), 921_600);
            let f = l.flash_info().await.unwrap();
            assert_eq!((f.jedec_id, f.size), (0x1640EF, 4 << 20));
            let image = firmware_like(100_000);
            let r = l
                .write_flash(0x150000, &image, WriteOptions::default())
                .await
                .unwrap();
            assert_eq!(r.written, image.len() as u64);
            assert_eq!(
                l.flash_md5(0x150000, image.len() as u32).await.unwrap(),
                md5(&image)
            );
        });
    }
}

fn session(stub: bool, baud: u32) -> otaflash::loader::OpenOptions {
    otaflash::loader::OpenOptions {
        reset: Reset::Classic,
        attempts: 3,
        stubs: if stub {
            self::stub(); // built in, or the test fails here
            otaflash::loader::stub::Stubs::Embedded
        } else {
            otaflash::loader::stub::Stubs::None
        },
        baud: Some(baud),
    }
}

#[test]
fn rom_loader_when_the_stub_does_not_start() {
    let p = port_with(|c| c.faults.stub_fails = true);
    block_on(async {
        let mut l = Loader::new(p);
        l.open(&session(true, 921_600)).await.unwrap();
        assert!(!l.is_stub());
        assert_eq!(l.baud(), 921_600, "the ROM switched the baud");
        let image = firmware_like(50_000);
        l.write_flash(0x150000, &image, WriteOptions::default())
            .await
            .unwrap();
        assert_eq!(
            l.flash_md5(0x150000, image.len() as u32).await.unwrap(),
            md5(&image)
        );
    });
}

#[test]
fn back_to_115200_when_the_adapter_cannot_do_the_baud() {
    // The adapter tops out at 1 Mbaud; 2 Mbaud garbles. The stub cannot be talked back down,
    // so the session resets the chip, reconnects and restarts the stub at 115200.
    let p = port_with(|c| c.faults.adapter_max_baud = Some(1_000_000));
    block_on(async {
        let mut l = Loader::new(p);
        l.open(&session(true, 2_000_000)).await.unwrap();
        assert_eq!(l.baud(), 115_200);
        assert!(l.is_stub());
        let image = firmware_like(30_000);
        l.write_flash(0x150000, &image, WriteOptions::default())
            .await
            .unwrap();
    });
}

#[test]
fn stub_reports_a_failed_write_on_the_next_command() {
    use otaflash::wire::command::Command;
    let mut l = connected(port(Timing::NONE), true, 921_600);
    block_on(async {
        l.flash_info().await.unwrap();
        let begin = Command::FlashDeflBegin {
            size: 0x1000,
            blocks: 2,
            block_size: 0x4000,
            offset: 0x150000,
            encrypted: Some(0),
        };
        l.command(&begin, 0).await.unwrap();
        // Not a zlib stream, but a correct checksum: the stub acknowledges before inflating.
        let junk = Command::FlashDeflData {
            seq: 0,
            data: vec![0x55; 64],
        };
        l.command(&junk, 0).await.unwrap();
        // The inflate error is the answer to whatever comes next.
        let e = l
            .command(&Command::FlashDeflEnd { run: true }, 0)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Device(r) if r.stub && r.error.status == 0xC7),
            "{e:?}"
        );
        assert!(e.to_string().contains("inflate error (error 0xC7)"), "{e}");
    });
}

/// The reset follows the port's USB ids: on the chip's own USB-Serial-JTAG (303A:1001) the
/// USB-JTAG sequence at once (the classic one boots it from flash there); with ids unknown
/// both in turn, so one attempt is not enough; on a CP210x bridge the classic circuit only.
#[test]
fn reset_is_chosen_from_the_usb_ids() {
    use otaflash::chips::Chip;
    use std::cell::RefCell;
    use std::rc::Rc;
    let c3 = Chip::by_name("esp32c3").unwrap();
    let connect = |usb: (u16, u16), told: bool, attempts: u32| {
        let p = port_with(|c| {
            c.chip = c3;
            c.usb = Some(usb);
            c.usb_ids_told = told;
        });
        block_on(async {
            let mut l = Loader::new(p);
            let log = Rc::new(RefCell::new(vec![]));
            let sink = log.clone();
            l.on_event(move |e| {
                if let otaflash::loader::Event::Log(m) = e {
                    sink.borrow_mut().push(m)
                }
            });
            let r = l.connect(Reset::Auto, attempts).await.map(|i| i.chip.name);
            let lines = log.borrow().join("\n");
            (r, lines)
        })
    };
    let jtag = (0x303A, 0x1001);
    let (r, log) = connect(jtag, true, 1);
    assert_eq!(r.unwrap(), "esp32c3");
    assert!(log.contains("USB-Serial-JTAG"), "{log}");
    let (r, _) = connect(jtag, false, 1);
    assert!(
        r.is_err(),
        "the classic sequence first, which this port ignores"
    );
    let (r, _) = connect(jtag, false, 2);
    assert_eq!(r.unwrap(), "esp32c3", "then the USB-JTAG one");
    let (r, log) = connect((0x10C4, 0xEA60), true, 1);
    assert_eq!(r.unwrap(), "esp32c3");
    assert!(log.contains("CP210x"), "{log}");
}

/// Through the ROM's USB-OTG port (an ESP32-S2 at 303A:0002) the stub goes up in 2 KiB blocks,
/// which that ROM takes (the simulated one, like the real one, fails bigger blocks); the same
/// with ids unknown on a chip that has USB-OTG.
#[test]
fn the_stub_goes_up_in_small_blocks_over_usb_otg() {
    let s2 = otaflash::chips::Chip::by_name("esp32s2").unwrap();
    for told in [true, false] {
        let p = port_with(|c| {
            c.chip = s2;
            c.usb = Some((0x303A, 0x0002));
            c.usb_ids_told = told;
        });
        block_on(async {
            let mut l = Loader::new(p);
            l.connect(Reset::Classic, 2).await.unwrap();
            let s = StubImage::embedded(s2).expect("run scripts/setup.sh");
            l.run_stub(&s).await.unwrap();
            assert!(l.is_stub());
        });
    }
}

/// Answers to SPI_FLASH_MD5 that arrive within `within` (raw reads, no loader in between).
async fn md5_answers(l: &mut Loader<SimPort>, within: std::time::Duration) -> usize {
    use otaflash::loader::Port;
    use otaflash::wire::command::{op, Response};
    use otaflash::wire::slip;
    let mut dec = slip::Decoder::new(0x10000);
    let (mut buf, mut events, mut n) = (vec![0u8; 0x1000], vec![], 0);
    let until = l.port().elapsed() + within;
    while l.port().elapsed() < until {
        let left = until - l.port().elapsed();
        let got = l.port().read(&mut buf, left).await.unwrap();
        dec.push(&buf[..got], &mut events);
        for e in events.drain(..) {
            if let slip::Event::Frame(f) = e {
                n += Response::parse(&f).is_some_and(|r| r.op == op::SPI_FLASH_MD5) as usize;
            }
        }
    }
    n
}

/// The flasher stub as it really receives (esp-flasher-stub's slip.c / frame_buffer.c, modelled
/// in src/sim/stub_rx.rs): a command that starts before the stub has taken the previous one is
/// lost without an answer — two written back to back get one answer, in one write or in two;
/// written one after the other's answer, both are answered; and the stub goes on working.
#[test]
fn the_stub_drops_a_command_written_before_it_took_the_previous_one() {
    use otaflash::loader::Port;
    use otaflash::wire::command::Command;
    use otaflash::wire::slip;
    use std::time::Duration;
    let md5_cmd = |offset| {
        slip::encode(
            &Command::SpiFlashMd5 {
                offset,
                size: 0x1000,
            }
            .encode(),
        )
    };
    let mut l = connected(port(Timing::REALISTIC), true, 921_600);
    block_on(async {
        let mut both = md5_cmd(0x1000);
        both.extend(md5_cmd(0x2000));
        l.port().write(&both).await.unwrap();
        assert_eq!(md5_answers(&mut l, Duration::from_secs(3)).await, 1);
        l.port().write(&md5_cmd(0x1000)).await.unwrap();
        l.port().write(&md5_cmd(0x2000)).await.unwrap();
        assert_eq!(md5_answers(&mut l, Duration::from_secs(3)).await, 1);
        for at in [0x1000, 0x2000] {
            l.port().write(&md5_cmd(at)).await.unwrap();
            assert_eq!(md5_answers(&mut l, Duration::from_millis(200)).await, 1);
        }
        // Nothing is left out of step: the loader's own commands are answered.
        assert_eq!(
            l.flash_md5(0x1000, 0x1000).await.unwrap(),
            md5(&arduino_flash()[0x1000..0x2000])
        );
    });
}

/// The ROM loader reads whole frames out of its UART receive buffer (rom/uart.h: an interrupt
/// fills it, recv_packet reads it), so a short command written right behind another is kept and
/// answered after it; the loader still never does that (one command in flight, always).
#[test]
fn the_rom_answers_a_short_command_written_right_behind_another() {
    use otaflash::loader::Port;
    use otaflash::wire::command::Command;
    use otaflash::wire::slip;
    use std::time::Duration;
    let mut l = connected(port(Timing::REALISTIC), false, 115_200);
    block_on(async {
        l.flash_info().await.unwrap();
        let mut both = vec![];
        for offset in [0x1000, 0x2000] {
            both.extend(slip::encode(
                &Command::SpiFlashMd5 {
                    offset,
                    size: 0x1000,
                }
                .encode(),
            ));
        }
        l.port().write(&both).await.unwrap();
        assert_eq!(md5_answers(&mut l, Duration::from_secs(3)).await, 2);
    });
}

/// The simulated app speaks Improv Wi-Fi on its console (wire::improv, both sides): device
/// info, the networks it sees, a wrong password said as such, then the right one and the
/// address to visit — read back through the same port as the console text around it.
#[test]
fn the_simulated_app_provisions_wifi_over_improv() {
    use otaflash::wire::improv::{command, ErrorState, Packet, Reader, State};
    use std::time::Duration;
    let mut p = port(Timing::REALISTIC);
    p.dev.reset(Duration::ZERO, false);
    block_on(async {
        let mut reader = Reader::default();
        let r = &mut reader;
        let info = improv_ask(&mut p, r, Packet::request(command::DEVICE_INFO), |x| {
            matches!(x, Packet::Result { .. })
        })
        .await;
        assert_eq!(
            info[0],
            Packet::Result {
                command: command::DEVICE_INFO,
                strings: vec![
                    "hello_world".into(),
                    "v1.4.1-2-g0296947-dirty".into(),
                    "ESP32".into(),
                    "hello-world-0e514d".into()
                ]
            }
        );
        let scan = improv_ask(
            &mut p,
            r,
            Packet::request(command::WIFI_NETWORKS),
            |x| matches!(x, Packet::Result { strings, .. } if strings.is_empty()),
        )
        .await;
        assert_eq!(scan.len(), 4, "three networks, then the end: {scan:?}");
        let wrong = improv_ask(
            &mut p,
            r,
            Packet::wifi_settings("GardenNet", "potato"),
            |x| matches!(x, Packet::State(State::Ready)),
        )
        .await;
        assert!(
            wrong.contains(&Packet::Error(ErrorState::UnableToConnect)),
            "{wrong:?}"
        );
        let right = improv_ask(
            &mut p,
            r,
            Packet::wifi_settings("GardenNet", "tomato-soup"),
            |x| matches!(x, Packet::Result { .. }),
        )
        .await;
        assert!(
            right.contains(&Packet::State(State::Provisioned)),
            "{right:?}"
        );
        assert_eq!(
            right.last(),
            Some(&Packet::Result {
                command: command::SEND_WIFI_SETTINGS,
                strings: vec!["http://hello-world-0e514d.local/".into()]
            })
        );
    });
}

/// Sends an Improv request to the app's console and reads answers until `until` says done.
async fn improv_ask(
    p: &mut SimPort,
    reader: &mut otaflash::wire::improv::Reader,
    packet: otaflash::wire::improv::Packet,
    until: fn(&otaflash::wire::improv::Packet) -> bool,
) -> Vec<otaflash::wire::improv::Packet> {
    use otaflash::loader::Port;
    use otaflash::wire::improv::Read;
    p.write(&packet.encode()).await.unwrap();
    let mut got = vec![];
    let mut buf = [0u8; 1024];
    for _ in 0..200 {
        let n = p
            .read(&mut buf, std::time::Duration::from_millis(50))
            .await
            .unwrap();
        for r in reader.push(&buf[..n]) {
            if let Read::Packet(x) = r {
                let done = until(&x);
                got.push(x);
                if done {
                    return got;
                }
            }
        }
    }
    panic!("no answer: {got:?}");
}
