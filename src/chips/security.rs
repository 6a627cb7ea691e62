//! A chip's security state — flash encryption, secure boot, secure download mode, JTAG — as its
//! ROM loader tells it: the ESP32 through eFuse block 0 (its ROM has no GET_SECURITY_INFO), the
//! later chips through GET_SECURITY_INFO (flags and the flash-encryption counter), with the
//! "manual encryption disabled" eFuse telling release from development mode where reads are
//! allowed.
//!
//! Sources: esptool 5.6.0 `loader.py` (`get_security_info`, its flag names and bits),
//! `targets/esp32.py` (`EFUSE_SPI_BOOT_CRYPT_CNT_*`, `EFUSE_RD_ABS_DONE_*`,
//! `EFUSE_DIS_DOWNLOAD_MANUAL_ENCRYPT*`), `targets/esp32{s2,s3,c2,c3,c6}.py`
//! (`EFUSE_DIS_DOWNLOAD_MANUAL_ENCRYPT_REG`/`_MASK`); ESP-IDF flash-encryption docs (an odd
//! number of counter bits set = encryption on; release mode disables manual encryption).

/// One eFuse bit field: register and mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub reg: u32,
    pub mask: u32,
}

impl Field {
    pub const fn new(reg: u32, mask: u32) -> Field {
        Field { reg, mask }
    }

    /// The field's bits (shifted down) in `value`, the register's contents.
    pub fn of(self, value: u32) -> u32 {
        (value & self.mask) >> self.mask.trailing_zeros()
    }
}

/// Where a chip keeps its security state.
#[derive(Debug, Clone, Copy)]
pub enum SecurityFacts {
    /// eFuse block 0 words (the ESP32).
    Efuse {
        /// FLASH_CRYPT_CNT (7 bits).
        crypt_cnt: Field,
        /// ABS_DONE_0: secure boot v1.
        secure_boot_v1: Field,
        /// ABS_DONE_1: secure boot v2 (ESP32 v3 and later).
        secure_boot_v2: Field,
        /// DISABLE_DL_ENCRYPT: release mode.
        manual_encrypt_disabled: Field,
        /// JTAG_DISABLE.
        jtag_disabled: Field,
    },
    /// GET_SECURITY_INFO, plus this eFuse bit (DIS_DOWNLOAD_MANUAL_ENCRYPT) when reads are
    /// allowed.
    SecurityInfo { manual_encrypt_disabled: Field },
}

/// GET_SECURITY_INFO's flag bits (esptool `get_security_info`).
pub mod flag {
    pub const SECURE_BOOT_EN: u32 = 1 << 0;
    pub const SECURE_BOOT_AGGRESSIVE_REVOKE: u32 = 1 << 1;
    pub const SECURE_DOWNLOAD_ENABLE: u32 = 1 << 2;
    pub const SOFT_DIS_JTAG: u32 = 1 << 6;
    pub const HARD_DIS_JTAG: u32 = 1 << 7;
}

/// GET_SECURITY_INFO's answer: flags, the flash-encryption counter, and the chip id where the
/// ROM sends one (20 bytes; the ESP32-S2's 12 carry none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityInfo {
    pub flags: u32,
    pub crypt_cnt: u8,
    /// What each eFuse key block holds (ESP-IDF `esp_efuse_purpose_t`).
    pub key_purposes: [u8; 7],
    pub chip_id: Option<u32>,
}

impl SecurityInfo {
    pub fn parse(data: &[u8]) -> Option<SecurityInfo> {
        let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        match data.len() {
            12 => Some(SecurityInfo {
                flags: word(0),
                crypt_cnt: data[4],
                key_purposes: data[5..12].try_into().ok()?,
                chip_id: None,
            }),
            n if n >= 20 => Some(SecurityInfo {
                flags: word(0),
                crypt_cnt: data[4],
                key_purposes: data[5..12].try_into().ok()?,
                chip_id: Some(word(12)),
            }),
            _ => None,
        }
    }

    /// The answer as a ROM sends it (for the simulator): 20 bytes with a chip id, 12 without.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.flags.to_le_bytes().to_vec();
        v.push(self.crypt_cnt);
        v.extend(self.key_purposes);
        if let Some(id) = self.chip_id {
            v.extend(id.to_le_bytes());
            v.extend(0u32.to_le_bytes());
        }
        v
    }

    pub fn secure_download(&self) -> bool {
        self.flags & flag::SECURE_DOWNLOAD_ENABLE != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashEncryption {
    Off,
    /// On, and the ROM still encrypts what it is sent with the encrypted flag.
    Development,
    /// On, with manual encryption disabled: only pre-encrypted data can be written.
    Release,
    /// On; which mode is hidden (secure download mode refuses eFuse reads).
    On,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecureBoot {
    #[default]
    Off,
    V1,
    V2,
}

/// What a technician needs to know before writing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Security {
    pub flash_encryption: FlashEncryption,
    pub secure_boot: SecureBoot,
    /// The ROM runs in secure download mode: no stub, no reads, no MD5.
    pub secure_download: bool,
    pub jtag_disabled: bool,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            flash_encryption: FlashEncryption::Off,
            secure_boot: SecureBoot::Off,
            secure_download: false,
            jtag_disabled: false,
        }
    }
}

/// An odd number of counter bits set means flash encryption is on.
fn encryption_on(crypt_cnt: u32) -> bool {
    crypt_cnt.count_ones() % 2 == 1
}

impl Security {
    /// From GET_SECURITY_INFO; `manual_encrypt_disabled` is the eFuse bit where it could be
    /// read (not in secure download mode).
    pub fn from_security_info(info: &SecurityInfo, manual_encrypt_disabled: Option<bool>) -> Self {
        let flash_encryption = match (
            encryption_on(info.crypt_cnt as u32),
            manual_encrypt_disabled,
        ) {
            (false, _) => FlashEncryption::Off,
            (true, Some(true)) => FlashEncryption::Release,
            (true, Some(false)) => FlashEncryption::Development,
            (true, None) => FlashEncryption::On,
        };
        Security {
            flash_encryption,
            secure_boot: if info.flags & flag::SECURE_BOOT_EN != 0 {
                SecureBoot::V2
            } else {
                SecureBoot::Off
            },
            secure_download: info.secure_download(),
            jtag_disabled: info.flags & (flag::SOFT_DIS_JTAG | flag::HARD_DIS_JTAG) != 0,
        }
    }

    /// From the ESP32's eFuse words (`read(reg)` gives a register's value).
    pub fn from_efuses(facts: &SecurityFacts, read: impl Fn(u32) -> u32) -> Option<Self> {
        let SecurityFacts::Efuse {
            crypt_cnt,
            secure_boot_v1,
            secure_boot_v2,
            manual_encrypt_disabled,
            jtag_disabled,
        } = *facts
        else {
            return None;
        };
        let get = |f: Field| f.of(read(f.reg));
        let flash_encryption = match (
            encryption_on(get(crypt_cnt)),
            get(manual_encrypt_disabled) != 0,
        ) {
            (false, _) => FlashEncryption::Off,
            (true, true) => FlashEncryption::Release,
            (true, false) => FlashEncryption::Development,
        };
        let secure_boot = if get(secure_boot_v2) != 0 {
            SecureBoot::V2
        } else if get(secure_boot_v1) != 0 {
            SecureBoot::V1
        } else {
            SecureBoot::Off
        };
        Some(Security {
            flash_encryption,
            secure_boot,
            secure_download: false,
            jtag_disabled: get(jtag_disabled) != 0,
        })
    }

    pub fn flash_encrypted(&self) -> bool {
        self.flash_encryption != FlashEncryption::Off
    }

    /// Reads cannot show what the flash holds (refused in secure download mode, ciphertext
    /// under flash encryption).
    pub fn reads_hidden(&self) -> bool {
        self.secure_download || self.flash_encrypted()
    }

    /// Nothing enabled.
    pub fn is_open(&self) -> bool {
        *self == Security::default()
    }

    pub fn flash_encryption_text(&self) -> &'static str {
        match self.flash_encryption {
            FlashEncryption::Off => "off",
            FlashEncryption::Development => "on (development mode)",
            FlashEncryption::Release => "on (release mode)",
            FlashEncryption::On => "on (mode not readable in secure download mode)",
        }
    }

    pub fn secure_boot_text(&self) -> &'static str {
        match self.secure_boot {
            SecureBoot::Off => "off",
            SecureBoot::V1 => "on (v1)",
            SecureBoot::V2 => "on (v2)",
        }
    }

    /// One line: "flash encryption on (release mode), secure boot on (v2), secure download
    /// mode, JTAG disabled", or "no security features enabled".
    pub fn summary(&self) -> String {
        if self.is_open() {
            return "no security features enabled".into();
        }
        let mut parts = vec![];
        if self.flash_encrypted() {
            parts.push(format!("flash encryption {}", self.flash_encryption_text()));
        }
        if self.secure_boot != SecureBoot::Off {
            parts.push(format!("secure boot {}", self.secure_boot_text()));
        }
        if self.secure_download {
            parts.push("secure download mode".into());
        }
        if self.jtag_disabled {
            parts.push("JTAG disabled".into());
        }
        parts.join(", ")
    }
}

/// How data reaches the flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Written {
    /// As it is, and it is plain.
    #[default]
    Plain,
    /// As it is, already encrypted for the chip's key elsewhere (espsecure encrypt-flash-data).
    PreEncrypted,
    /// Plain, encrypted by the chip as it writes (FLASH_BEGIN's encrypted flag; development
    /// mode only).
    EncryptedByChip,
}

/// Why a write is refused on this chip (nothing is written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteBlock {
    /// Flash encryption is on and the data is plain: it would not decrypt at boot.
    PlainOnEncrypted,
    /// Encrypting on write was asked, but flash encryption is off: the data would be stored
    /// encrypted and never decrypted.
    EncryptWithoutEncryption,
    /// Encrypting on write was asked in release mode, where the chip no longer does it.
    EncryptInRelease,
    /// Secure boot v1 keeps the bootloader's digest below 0x8000: rewriting it bricks the chip
    /// (esptool refuses the same).
    SecureBootV1Bootloader,
}

impl WriteBlock {
    pub fn message(self) -> &'static str {
        match self {
            WriteBlock::PlainOnEncrypted => "flash encryption is on: plain data written there would not decrypt at boot. Write an image encrypted for this chip's key (espsecure encrypt-flash-data) and mark it pre-encrypted",
            WriteBlock::SecureBootV1Bootloader => "secure boot v1 is on: the bootloader region below 0x8000 holds its digest and must not be rewritten",
            WriteBlock::EncryptWithoutEncryption => "flash encryption is off on this chip: data encrypted on write would never be decrypted. Write it plain",
            WriteBlock::EncryptInRelease => "flash encryption is in release mode: the chip no longer encrypts what it is sent. Write data encrypted for its key elsewhere, marked pre-encrypted",
        }
    }
}

impl Security {
    /// Whether `len` bytes at `offset` may be written; `pre_encrypted`: the technician marked
    /// the data as already encrypted for this chip (written as it is).
    pub fn write_block(&self, offset: u32, how: Written) -> Option<WriteBlock> {
        if self.secure_boot == SecureBoot::V1 && offset < 0x8000 {
            return Some(WriteBlock::SecureBootV1Bootloader);
        }
        match (self.flash_encryption, how) {
            (FlashEncryption::Off, Written::EncryptedByChip) => {
                Some(WriteBlock::EncryptWithoutEncryption)
            }
            (FlashEncryption::Release, Written::EncryptedByChip) => {
                Some(WriteBlock::EncryptInRelease)
            }
            (FlashEncryption::Off, _) => None,
            (_, Written::Plain) => Some(WriteBlock::PlainOnEncrypted),
            _ => None,
        }
    }
}

/// A simulated chip's security state (what its eFuses hold).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimSecurity {
    pub flash_encryption: bool,
    /// Release mode: manual encryption disabled.
    pub release: bool,
    pub secure_boot: bool,
    /// Secure boot v1 (the ESP32's older scheme) instead of v2.
    pub secure_boot_v1: bool,
    pub secure_download: bool,
    pub jtag_disabled: bool,
}

impl SimSecurity {
    /// Reads `a,b,…` of: flash-encryption (development mode), flash-encryption-release,
    /// secure-boot (v2), secure-boot-v1 (ESP32), secure-download, jtag-disabled, none.
    pub fn parse(s: &str) -> Result<SimSecurity, String> {
        let mut v = SimSecurity::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "none" => {}
                "flash-encryption" => v.flash_encryption = true,
                "flash-encryption-release" => {
                    v.flash_encryption = true;
                    v.release = true;
                }
                "secure-boot" => v.secure_boot = true,
                "secure-boot-v1" => v.secure_boot_v1 = true,
                "secure-download" => v.secure_download = true,
                "jtag-disabled" => v.jtag_disabled = true,
                other => {
                    return Err(format!(
                        "'{other}' is not a security state: flash-encryption, flash-encryption-release, secure-boot, secure-boot-v1, secure-download, jtag-disabled or none"
                    ))
                }
            }
        }
        Ok(v)
    }

    /// Whether a chip whose state lives in `facts` can be in this state: the ESP32 has no
    /// secure download mode (it came with the S2).
    pub fn check(&self, facts: &SecurityFacts) -> Result<(), Impossible> {
        match facts {
            SecurityFacts::Efuse { .. } if self.secure_download => {
                Err(Impossible::SecureDownloadOnEsp32)
            }
            SecurityFacts::SecurityInfo { .. } if self.secure_boot_v1 => {
                Err(Impossible::SecureBootV1AfterEsp32)
            }
            _ if self.secure_boot && self.secure_boot_v1 => Err(Impossible::BothSecureBoots),
            _ => Ok(()),
        }
    }

    /// GET_SECURITY_INFO's answer for a chip with `chip_id` (None: the S2's short form).
    pub fn security_info(&self, chip_id: Option<u32>) -> SecurityInfo {
        let mut flags = 0;
        if self.secure_boot {
            flags |= flag::SECURE_BOOT_EN;
        }
        if self.secure_download {
            flags |= flag::SECURE_DOWNLOAD_ENABLE;
        }
        if self.jtag_disabled {
            flags |= flag::SOFT_DIS_JTAG;
        }
        // The key blocks as the bootloader burns them: the flash-encryption key
        // (XTS_AES_128_KEY = 4) in block 0, a secure-boot digest (SECURE_BOOT_DIGEST0 = 9) next.
        let mut key_purposes = [0; 7];
        let mut next = 0;
        for (on, purpose) in [(self.flash_encryption, 4), (self.secure_boot, 9)] {
            if on {
                key_purposes[next] = purpose;
                next += 1;
            }
        }
        SecurityInfo {
            flags,
            // One bit set: encrypted once, as the bootloader leaves it on first boot.
            crypt_cnt: self.flash_encryption as u8,
            key_purposes,
            chip_id,
        }
    }

    /// The bits this state sets in eFuse register `addr` of a chip with `facts`.
    pub fn efuse_bits(&self, facts: &SecurityFacts, addr: u32) -> u32 {
        let mut bits = 0;
        let mut set = |f: Field, on: bool| {
            if on && f.reg == addr {
                bits |= f.mask & f.mask.wrapping_neg(); // the field's lowest bit
            }
        };
        match *facts {
            SecurityFacts::Efuse {
                crypt_cnt,
                secure_boot_v1,
                secure_boot_v2,
                manual_encrypt_disabled,
                jtag_disabled,
            } => {
                set(crypt_cnt, self.flash_encryption);
                set(secure_boot_v1, self.secure_boot_v1);
                set(secure_boot_v2, self.secure_boot);
                set(manual_encrypt_disabled, self.release);
                set(jtag_disabled, self.jtag_disabled);
            }
            SecurityFacts::SecurityInfo {
                manual_encrypt_disabled,
            } => set(manual_encrypt_disabled, self.release),
        }
        bits
    }
}

/// A security state no chip of that kind can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impossible {
    /// Secure download mode came with the ESP32-S2.
    SecureDownloadOnEsp32,
    /// Secure boot v1 is the ESP32's only.
    SecureBootV1AfterEsp32,
    BothSecureBoots,
}

impl std::fmt::Display for Impossible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Impossible::SecureDownloadOnEsp32 => {
                "the ESP32 has no secure download mode (the ESP32-S2 and later chips have)"
            }
            Impossible::SecureBootV1AfterEsp32 => {
                "secure boot v1 exists on the ESP32 only (later chips have v2: secure-boot)"
            }
            Impossible::BothSecureBoots => "secure-boot (v2) and secure-boot-v1 exclude each other",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_info_round_trips_and_decodes() {
        let s = SimSecurity::parse(
            "flash-encryption-release,secure-boot,secure-download,jtag-disabled",
        )
        .unwrap();
        let info = s.security_info(Some(5));
        assert_eq!(info.encode().len(), 20);
        assert_eq!(SecurityInfo::parse(&info.encode()), Some(info));
        let short = s.security_info(None);
        assert_eq!(short.encode().len(), 12);
        assert_eq!(SecurityInfo::parse(&short.encode()), Some(short));
        // In secure download mode the release bit cannot be read.
        let sec = Security::from_security_info(&info, None);
        assert_eq!(sec.flash_encryption, FlashEncryption::On);
        assert_eq!(sec.secure_boot, SecureBoot::V2);
        assert!(sec.secure_download && sec.jtag_disabled);
        assert_eq!(
            sec.summary(),
            "flash encryption on (mode not readable in secure download mode), secure boot on (v2), secure download mode, JTAG disabled"
        );
        assert_eq!(
            Security::from_security_info(&info, Some(true)).flash_encryption,
            FlashEncryption::Release
        );
        // Two counter bits set: encrypted, then decrypted again (off).
        let twice = SecurityInfo {
            crypt_cnt: 0b11,
            ..info
        };
        assert_eq!(
            Security::from_security_info(&twice, Some(false)).flash_encryption,
            FlashEncryption::Off
        );
        assert!(Security::default().is_open());
        // Secure boot v1 guards the bootloader region; encryption refuses plain data only.
        let v1 = Security {
            secure_boot: SecureBoot::V1,
            ..Security::default()
        };
        use Written::*;
        assert_eq!(
            v1.write_block(0x1000, Plain),
            Some(WriteBlock::SecureBootV1Bootloader)
        );
        assert_eq!(v1.write_block(0x10000, Plain), None);
        assert_eq!(
            v1.write_block(0x10000, EncryptedByChip),
            Some(WriteBlock::EncryptWithoutEncryption)
        );
        assert_eq!(
            sec.write_block(0x10000, Plain),
            Some(WriteBlock::PlainOnEncrypted)
        );
        assert_eq!(sec.write_block(0x10000, PreEncrypted), None);
        let dev = Security {
            flash_encryption: FlashEncryption::Development,
            ..Security::default()
        };
        assert_eq!(dev.write_block(0x10000, EncryptedByChip), None);
        let rel = Security {
            flash_encryption: FlashEncryption::Release,
            ..Security::default()
        };
        assert_eq!(
            rel.write_block(0x10000, EncryptedByChip),
            Some(WriteBlock::EncryptInRelease)
        );
        assert!(SimSecurity::parse("secure-bot")
            .unwrap_err()
            .contains("secure-boot"));
    }

    #[test]
    fn esp32_efuses_decode() {
        let facts = crate::chips::esp32::ROM.security;
        for (state, want) in [
            ("flash-encryption", "flash encryption on (development mode)"),
            (
                "flash-encryption-release,secure-boot,jtag-disabled",
                "flash encryption on (release mode), secure boot on (v2), JTAG disabled",
            ),
            ("none", "no security features enabled"),
        ] {
            let s = SimSecurity::parse(state).unwrap();
            let sec = Security::from_efuses(&facts, |reg| s.efuse_bits(&facts, reg)).unwrap();
            assert_eq!(sec.summary(), want);
        }
    }
}
