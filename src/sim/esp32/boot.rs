//! The simulated chip's reset circuit, second-stage bootloader and app: what runs after a
//! reset (download mode or the app in the slot otadata selects, as ESP-IDF's bootloader picks
//! it), and what each prints on the console.

use super::*;

impl Esp32 {
    /// Reset the chip (EN released) at time `t`, into the ROM loader or booting from flash.
    /// Whatever was still on its way out is lost.
    pub fn reset(&mut self, t: Duration, download: bool) {
        if !self.flash.powered() {
            self.flash.power_on();
        }
        self.out.clear();
        self.d2h_free = t;
        self.restart(t, Some(self.rom().sim.power_on), download);
    }

    /// Software reset: the strapping pins stay latched, so a chip in download mode comes back
    /// to the ROM loader. Bytes already sent keep going.
    pub(super) fn software_reset(&mut self, t: Duration) {
        self.restart(t, Some(self.rom().sim.software_reset), true);
    }

    /// Back to the ROM's start (`cause` printed in its banner), or, without a cause, a jump
    /// from the loader straight into the app (no banner).
    pub(super) fn restart(&mut self, t: Duration, cause: Option<&str>, download: bool) {
        self.baud = ROM_BAUD;
        self.rom_baud_value = ROM_BAUD;
        self.app_line.clear();
        self.app_info = None;
        self.improv = Default::default();
        self.decoder.reset();
        self.stub_rx = StubRx::new(t);
        self.write = None;
        self.read = None;
        self.mem_loaded = false;
        self.pending_error = None;
        self.spi_attached = false;
        self.flash_size_param = None;
        self.frame_first_byte = None;
        self.cpu_free = t;
        self.chip_free = t;
        self.h2d_free = t;
        let facts = &self.rom().sim;
        let banner = |boot: &str| {
            cause.map_or(String::new(), |c| {
                format!("{}rst:{c},boot:{boot}\r\n", facts.banner)
            })
        };
        self.crash_pending = false;
        self.crash_at = None;
        let text = if download {
            self.mode = Mode::Rom;
            banner(facts.boot_download) + "waiting for download\r\n"
        } else {
            self.mode = Mode::App;
            banner(facts.boot_flash) + &self.boot_from_flash()
        };
        self.emit_raw(t, text.into_bytes());
        if std::mem::take(&mut self.crash_pending) {
            self.crash_at = Some(t + APP_CRASHES_AFTER);
        }
    }

    /// An app marked to crash panics when its time comes and the chip restarts (a software
    /// reset: the ROM, the bootloader, the same app again) — a reboot loop, one turn at a time.
    pub(super) fn run_crashes(&mut self, now: Duration) {
        while let Some(at) = self.crash_at.filter(|at| *at <= now) {
            self.crash_at = None;
            if self.mode != Mode::App {
                return;
            }
            self.emit_raw(at, panic_lines(self.config.chip).into_bytes());
            let cause = self.rom().sim.software_reset;
            self.restart(at + Duration::from_millis(20), Some(cause), false);
        }
    }

    /// The ROM leaves the loader and runs the app in flash (no reset: no ROM banner).
    pub(super) fn run_app(&mut self, t: Duration) {
        self.restart(t, None, false);
    }

    /// The second-stage bootloader's decision, applied to the flash (it writes otadata itself
    /// in some cases), and what it prints. The simulator does not run the app.
    pub(super) fn boot_from_flash(&mut self) -> String {
        self.last_boot = None;
        // Under flash encryption it reads through the decryption: the bootloader, the table,
        // the apps and partitions flagged encrypted (otadata and NVS stay as stored).
        let decrypted = self.flash_crypt().map(|k| {
            flash_crypt::decrypted_view(
                &k,
                self.flash.contents(),
                self.config.chip.bootloader_offset,
            )
        });
        let flash = decrypted.as_deref().unwrap_or(self.flash.contents());
        // The ROM loads the second-stage bootloader at the chip's bootloader offset.
        let boot_at = self.config.chip.bootloader_offset as usize;
        let bootloader = match Image::parse(&flash[boot_at..]) {
            Err(_) => return format!("flash read err, {boot_at:x}\r\nets_main.c 371\r\n"),
            Ok(i) if !i.checksum_ok() => {
                return format!(
                    "csum err:0x{:x}!=0x{:x}\r\nets_main.c 371\r\n",
                    i.checksum_computed, i.checksum_stored
                )
            }
            Ok(i) => i,
        };
        let Ok(table) = PartitionTable::from_flash(flash, DEFAULT_TABLE_OFFSET) else {
            return "E (50) flash_parts: partition table invalid\r\nE (55) boot: Failed to verify partition table\r\n".into();
        };
        // It checks the table against the flash size in its own header, not the chip's.
        let chip_size =
            crate::chips::flash_size_bytes(bootloader.header.flash_size_code).unwrap_or(0);
        if let Some((n, p)) = table
            .entries
            .iter()
            .enumerate()
            .find(|(_, p)| p.end() > chip_size as u64)
        {
            return format!(
                "E (50) flash_parts: partition {n} invalid - offset 0x{:x} size 0x{:x} exceeds flash chip size 0x{chip_size:x}\r\nE (55) boot: Failed to verify partition table\r\nE (60) boot: load partition table error!\r\n",
                p.offset, p.size
            );
        }
        let otadata = table.otadata().and_then(|p| {
            let s = p.offset as usize;
            flash
                .get(s..s + 0x2000)
                .and_then(|b| Otadata::parse(b).ok())
        });
        // The bootloader's own checks, for this chip and revision.
        // Its bootloader checks signatures under secure boot (v2 in the simulator).
        // (v1's ECDSA signature is not modelled: its images are not checked.)
        let secure_boot = match (
            self.config.security.secure_boot,
            self.config.security.secure_boot_v1,
        ) {
            (true, _) => crate::chips::security::SecureBoot::V2,
            (_, true) => crate::chips::security::SecureBoot::V1,
            _ => crate::chips::security::SecureBoot::Off,
        };
        let target = Target::chip(self.config.chip, Some(self.rom().sim.revision_full))
            .with_secure_boot(secure_boot);
        let bootable = |p: &crate::formats::partition::Partition| {
            let s = (p.offset as usize).min(flash.len());
            let e = (s + p.size as usize).min(flash.len());
            judge(&flash[s..e], target, p.offset, Some(p.size)).loads()
        };
        let boot = predict_boot(
            &table,
            otadata.as_ref().unwrap_or(&Otadata::blank()),
            false,
            &bootable,
        );
        let mut log =
            String::from("I (29) boot: ESP-IDF 2nd stage bootloader (otaflash simulator)\r\n");
        // What the real bootloader logs for each slot it skips (esp_image_format.c and
        // bootloader_utility.c wording).
        for (i, problem) in &boot.skipped {
            let p = &table.entries[*i];
            log.push_str(&format!(
                "E (100) esp_image: {}\r\n",
                bootloader_words(problem, p.offset)
            ));
            log.push_str(&match p.ota_index() {
                Some(n) => format!("E (110) boot: OTA app partition slot {n} is not bootable\r\n"),
                None if p.is_factory() => {
                    "E (110) boot: Factory app partition is not bootable\r\n".into()
                }
                None => "E (110) boot: Test app partition is not bootable\r\n".into(),
            });
        }
        let writes = boot.writes.clone();
        let booted = boot
            .booted_partition(&table)
            .map(|p| (p.name(), p.offset, p.size));
        if let Some(part) = table.otadata() {
            for (sector, entry) in writes {
                let at = part.offset + sector as u32 * SECTOR;
                if self.flash.erase(at, SECTOR).is_ok() {
                    let _ = self.flash.program(at, &entry.to_bytes());
                }
            }
        }
        match booted {
            Some((label, offset, size)) => {
                log.push_str(&format!(
                    "I (120) boot: Loaded app from partition at offset 0x{offset:x}\r\n"
                ));
                let s = offset as usize;
                let e = (s + size as usize).min(self.flash.contents().len());
                let app = Image::parse(&self.flash.contents()[s..e])
                    .ok()
                    .and_then(|i| i.app);
                log.push_str(&app_start_lines(app.as_ref(), self.rom().sim.revision_full));
                let mac = self.config.mac;
                self.app_info = Some(super::improv::AppInfo {
                    firmware: app
                        .as_ref()
                        .map_or("app".into(), |a| a.project_name.clone()),
                    version: app.as_ref().map_or(String::new(), |a| a.version.clone()),
                    chip: self.config.chip.pretty.to_string(),
                    // A host name: letters, digits and hyphens.
                    device: format!(
                        "{}-{:02x}{:02x}{:02x}",
                        app.as_ref()
                            .map_or("esp", |a| a.project_name.as_str())
                            .replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
                        mac[3],
                        mac[4],
                        mac[5]
                    ),
                });
                if app.as_ref().is_some_and(marked_to_crash) {
                    // It panics soon after starting, and the bootloader starts it again.
                    self.crash_pending = true;
                } else {
                    let what = app.map_or("an app".to_string(), |a| {
                        format!("\"{}\" {}", a.project_name, a.version)
                    });
                    log.push_str(&format!(
                        "[otaflash sim] {label} holds {what}; the simulator does not execute it\r\n"
                    ));
                }
                self.last_boot = Some((label, offset));
            }
            None => {
                log.push_str("E (120) boot: No bootable app partitions in the partition table\r\n")
            }
        }
        log
    }

    /// The simulated app's console: it does not run the app's code, but answers each line the
    /// host sends so that a serial console can be tried end to end.
    pub(super) fn app_console(&mut self, at: Duration, b: u8) {
        let Some(info) = self.app_info.clone().filter(|_| self.last_boot.is_some()) else {
            return;
        };
        // Improv Wi-Fi requests are answered by the app's service; the rest is console text.
        let answer = self.improv.receive(&[b], &info);
        for (delay, p) in answer.send {
            self.emit_raw(at + delay, p.encode());
        }
        for b in answer.text {
            self.app_text(at, b);
        }
    }

    /// A byte of text on the app's console: each line is answered.
    fn app_text(&mut self, at: Duration, b: u8) {
        if b == b'\n' || b == b'\r' {
            if !self.app_line.is_empty() {
                let line =
                    String::from_utf8_lossy(&std::mem::take(&mut self.app_line)).into_owned();
                self.emit_raw(
                    at,
                    format!("[otaflash sim] the app got: {line}\r\n").into_bytes(),
                );
            }
        } else if self.app_line.len() < 256 {
            self.app_line.push(b);
        }
    }
}

/// The ESP-IDF bootloader's log line for an image it refuses.
pub(super) fn bootloader_words(p: &crate::formats::bootable::ImageProblem, offset: u32) -> String {
    use crate::formats::bootable::ImageProblem as P;
    match p {
        P::Erased | P::NoImage { .. } => {
            format!("image at 0x{offset:x} has invalid magic byte (nothing flashed here?)")
        }
        P::WrongChip {
            image_chip_id,
            chip,
        } => format!(
            "mismatch chip ID, expected {}, found {image_chip_id}",
            chip.image_chip_id
        ),
        P::ChipTooOld { min, chip_rev } => format!(
            "Image requires chip rev >= v{}.{}, but chip is v{}.{}",
            min / 100,
            min % 100,
            chip_rev / 100,
            chip_rev % 100
        ),
        P::ChipTooNew { max, chip_rev } => format!(
            "Image requires chip rev <= v{}.{}, but chip is v{}.{}",
            max / 100,
            max % 100,
            chip_rev / 100,
            chip_rev % 100
        ),
        P::BadSegmentLength { len, .. } => format!("invalid segment length 0x{len:x}"),
        P::Checksum { stored, computed } => {
            format!("Checksum failed. Calculated 0x{computed:x} read 0x{stored:x}")
        }
        P::Digest => "Image hash failed - image is corrupt".into(),
        other => other.message(),
    }
}

/// The simulated chip does not run apps; an app whose project name contains "crash" stands for
/// one that panics at start (for testing what a reboot loop looks like).
pub fn marked_to_crash(app: &crate::formats::image::AppDesc) -> bool {
    app.project_name.contains("crash")
}

/// What an ESP-IDF v5 app prints as it starts (`cpu_start`, as v5.2 logs it; later versions
/// log the same lines under `app_init`), for an app with an app description.
pub(super) fn app_start_lines(
    app: Option<&crate::formats::image::AppDesc>,
    chip_rev: u16,
) -> String {
    let Some(a) = app else {
        return "I (200) cpu_start: Pro cpu start user code\r\n".into();
    };
    let sha: String = a.app_elf_sha256[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "I (200) cpu_start: Pro cpu start user code\r\n\
         I (209) cpu_start: Application information:\r\n\
         I (212) cpu_start: Project name:     {}\r\n\
         I (217) cpu_start: App version:      {}\r\n\
         I (221) cpu_start: Compile time:     {} {}\r\n\
         I (227) cpu_start: ELF file SHA256:  {sha}...\r\n\
         I (233) cpu_start: ESP-IDF:          {}\r\n\
         I (248) cpu_start: Chip rev:         v{}.{}\r\n\
         I (309) main_task: Started on CPU0\r\n\
         I (319) main_task: Calling app_main()\r\n",
        a.project_name,
        a.version,
        a.date,
        a.time,
        a.idf_ver,
        chip_rev / 100,
        chip_rev % 100
    )
}

/// What an ESP-IDF app prints when it panics (the panic handler's words, ESP-IDF
/// components/esp_system/panic.c), then restarts.
pub(super) fn panic_lines(chip: &Chip) -> String {
    let cause = chip.rom.map_or("LoadProhibited", |r| r.sim.panic_cause);
    let pc = chip.flash_map[0].0 + 0x2b5c;
    format!(
        "Guru Meditation Error: Core  0 panic'ed ({cause}). Exception was unhandled.\r\n\r\n\
         Core  0 register dump:\r\nPC      : 0x{pc:08x}\r\n\r\n\
         Backtrace: 0x{pc:08x}:0x3ffb4560\r\n\r\nRebooting...\r\n"
    )
}
