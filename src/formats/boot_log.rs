//! What a chip's console says about what it booted: the ROM's reset banner, the ESP-IDF
//! second-stage bootloader's lines (`boot: Loaded app from partition at offset 0x…`, slots it
//! skips), the app's own start lines (`cpu_start:` in ESP-IDF v5.0–5.2, `app_init:` later:
//! `Project name:`, `App version:`) and panics (`Guru Meditation Error`, `abort() was called`,
//! `Rebooting...`). Pure: text in, what it shows out.

/// What the console showed, in the order it came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootLog {
    /// Resets seen (ROM banners: `rst:0x…`).
    pub resets: u32,
    /// Offsets the bootloader loaded apps from, each time it did.
    pub loaded: Vec<u32>,
    /// The app that started last (its `Project name:` and `App version:` lines).
    pub project: Option<String>,
    pub version: Option<String>,
    /// An app's start was seen after the last load (any app built with ESP-IDF prints
    /// `cpu_start: Pro cpu start user code`, with or without an app description).
    pub started: bool,
    /// Panics and restarts by the app.
    pub panics: u32,
    /// "No bootable app partitions in the partition table".
    pub nothing_bootable: bool,
    /// The lines that show it (loaded, skipped, name, version, panic), at most a few dozen.
    pub evidence: Vec<String>,
}

/// What it comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The app at `offset` started and has not panicked.
    Running { offset: u32 },
    /// The app at `offset` panicked `panics` times: a reboot loop when more than once.
    Crashing { offset: u32, panics: u32 },
    /// The bootloader found nothing it would start.
    NothingBootable,
    /// The bootloader loaded the app at `offset`, but its start was not seen (yet).
    Loaded { offset: u32 },
    /// Nothing from a bootloader at all.
    Silent,
}

const EVIDENCE: usize = 40;

impl BootLog {
    pub fn parse(text: &str) -> BootLog {
        let mut log = BootLog::default();
        for raw in text.lines() {
            log.line(raw.trim_end_matches('\r'));
        }
        log
    }

    fn keep(&mut self, line: &str) {
        if self.evidence.len() < EVIDENCE {
            self.evidence.push(line.trim().to_string());
        }
    }

    fn line(&mut self, line: &str) {
        let field = |key: &str| {
            ["cpu_start: ", "app_init: "].iter().find_map(|tag| {
                let rest = &line[line.find(tag)? + tag.len()..];
                rest.strip_prefix(key).map(|v| v.trim().to_string())
            })
        };
        if line.contains("rst:0x") {
            self.resets += 1;
        } else if let Some(at) = line.split("Loaded app from partition at offset ").nth(1) {
            if let Some(off) = super::numbers::parse_u32(at.trim()) {
                self.loaded.push(off);
                self.started = false;
                self.project = None;
                self.version = None;
                self.keep(line);
            }
        } else if line.contains("Pro cpu start user code") {
            self.started = true;
        } else if let Some(p) = field("Project name:") {
            self.started = true;
            self.project = Some(p);
            self.keep(line);
        } else if let Some(v) = field("App version:") {
            self.version = Some(v);
            self.keep(line);
        } else if line.contains("Guru Meditation Error") || line.contains("abort() was called") {
            self.panics += 1;
            self.keep(line);
        } else if line.contains("is not bootable") || line.contains("esp_image: ") {
            self.keep(line);
        } else if line.contains("No bootable app partitions") {
            self.nothing_bootable = true;
            self.keep(line);
        }
    }

    /// What the console shows as it stands.
    pub fn seen(&self) -> Seen {
        match self.loaded.last() {
            Some(&offset) if self.panics > 0 => Seen::Crashing {
                offset,
                panics: self.panics,
            },
            Some(&offset) if self.started => Seen::Running { offset },
            Some(&offset) => Seen::Loaded { offset },
            None if self.nothing_bootable => Seen::NothingBootable,
            None => Seen::Silent,
        }
    }

    /// Enough seen to stop watching: a reboot loop (two panics), nothing bootable, or an app
    /// started `settled` ago without a panic (the caller tracks the time).
    pub fn conclusive(&self) -> bool {
        self.panics >= 2 || self.nothing_bootable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDF_V5: &str = "ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n\
        I (31) boot: ESP-IDF v5.2.2 2nd stage bootloader\r\n\
        I (188) boot: Loaded app from partition at offset 0x150000\r\n\
        I (209) cpu_start: Pro cpu start user code\r\n\
        I (212) cpu_start: Project name:     garden\r\n\
        I (217) cpu_start: App version:      1.1.0\r\n";

    #[test]
    fn an_idf_app_that_starts() {
        let log = BootLog::parse(IDF_V5);
        assert_eq!(log.seen(), Seen::Running { offset: 0x150000 });
        assert_eq!(
            (log.project.as_deref(), log.version.as_deref(), log.resets),
            (Some("garden"), Some("1.1.0"), 1)
        );
        assert_eq!(log.evidence.len(), 3);
        // ESP-IDF 5.3 and later log the same under app_init.
        let later = IDF_V5.replace("cpu_start: Project", "app_init: Project");
        assert_eq!(BootLog::parse(&later).project.as_deref(), Some("garden"));
    }

    #[test]
    fn a_reboot_loop_and_a_skipped_slot() {
        let panic = "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\r\nRebooting...\r\n";
        let log = BootLog::parse(&format!("{IDF_V5}{panic}{IDF_V5}{panic}"));
        assert_eq!(
            log.seen(),
            Seen::Crashing {
                offset: 0x150000,
                panics: 2
            }
        );
        assert!(log.conclusive());
        let skipped = "I (31) boot: ESP-IDF v5.2.2 2nd stage bootloader\r\n\
            E (100) esp_image: image at 0x150000 has invalid magic byte (nothing flashed here?)\r\n\
            E (110) boot: OTA app partition slot 1 is not bootable\r\n\
            I (120) boot: Loaded app from partition at offset 0x10000\r\n";
        let log = BootLog::parse(skipped);
        assert_eq!(log.seen(), Seen::Loaded { offset: 0x10000 });
        assert_eq!(log.evidence.len(), 3);
        assert_eq!(BootLog::parse("").seen(), Seen::Silent);
        let none =
            BootLog::parse("E (120) boot: No bootable app partitions in the partition table\r\n");
        assert_eq!(none.seen(), Seen::NothingBootable);
    }
}
