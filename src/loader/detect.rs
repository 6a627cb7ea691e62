//! Telling which chip answered, and what it is: GET_SECURITY_INFO's chip id where the ROM has
//! it, else the magic register; its identity eFuses; its security state.

use super::{ChipInfo, Error, Loader, Port, Result};
use crate::chips::security::{Security, SecurityFacts, SecurityInfo};
use crate::chips::{self, Chip};
use crate::wire::command::{op, timeouts, Command, Response};

impl<P: Port> Loader<P> {
    /// GET_SECURITY_INFO's chip id where the ROM has it, else the magic register; then the
    /// identity eFuses and the security state (secure download mode: only what
    /// GET_SECURITY_INFO says, as the ROM refuses register reads).
    pub(super) async fn detect(&mut self) -> Result<ChipInfo> {
        self.send(&Command::GetSecurityInfo).await?;
        let info = self.next_security_info().await?;
        let sdm = info.is_some_and(|i| i.secure_download());
        let chip = match info.and_then(|i| i.chip_id) {
            Some(id) => Chip::by_image_id(id as u16).ok_or_else(|| {
                Error::Unsupported(format!("unknown chip id {id} in GET_SECURITY_INFO"))
            })?,
            // A short answer in secure download mode: the ESP32-S2 (esptool does the same;
            // the magic register cannot be read there).
            None if sdm => Chip::by_name("esp32s2").unwrap_or(chips::ESP32),
            None => {
                let magic = self.read_reg(chips::CHIP_DETECT_MAGIC_REG).await?;
                if magic == chips::ESP8266_MAGIC {
                    return Err(Error::Unsupported(
                        "an ESP8266 answered: otaflash supports the ESP32 family only".into(),
                    ));
                }
                Chip::by_magic(magic).ok_or_else(|| {
                    Error::Unsupported(format!("unknown chip (magic value 0x{magic:08x})"))
                })?
            }
        };
        let unknown = |description: String, security: Security| ChipInfo {
            chip,
            description,
            revision: (0, 0),
            mac: [0; 6],
            crystal_mhz: 40,
            regs: chips::Registers::default(),
            security,
            identity_read: false,
        };
        let Some(rom) = chip.rom else {
            return Ok(unknown(chip.pretty.to_string(), Security::default()));
        };
        if let (true, Some(i)) = (sdm, info) {
            let security = Security::from_security_info(&i, None);
            return Ok(unknown(
                format!(
                    "{} (secure download mode: revision and MAC not readable)",
                    chip.pretty
                ),
                security,
            ));
        }
        let mut regs = chips::Registers::default();
        for &addr in rom.identity_regs {
            regs.0.push((addr, self.read_reg(addr).await?));
        }
        let security = match (rom.security, info) {
            (f @ SecurityFacts::Efuse { .. }, _) => {
                Security::from_efuses(&f, |a| regs.get(a)).unwrap_or_default()
            }
            (
                SecurityFacts::SecurityInfo {
                    manual_encrypt_disabled,
                },
                Some(i),
            ) => {
                let v = self.read_reg(manual_encrypt_disabled.reg).await?;
                Security::from_security_info(&i, Some(manual_encrypt_disabled.of(v) != 0))
            }
            (SecurityFacts::SecurityInfo { .. }, None) => Security::default(),
        };
        let d = (rom.describe)(&regs);
        Ok(ChipInfo {
            chip,
            description: d.description,
            revision: d.revision,
            mac: d.mac,
            crystal_mhz: d.crystal_mhz,
            regs,
            security,
            identity_read: true,
        })
    }

    /// A GET_SECURITY_INFO answer (20 bytes; the ESP32-S2 sends 12, without the chip id); None
    /// where the ROM has no such command (the ESP32).
    async fn next_security_info(&mut self) -> Result<Option<SecurityInfo>> {
        let deadline = self.now() + timeouts::DEFAULT;
        loop {
            let left = deadline.saturating_sub(self.now());
            let Some(frame) = self.next_frame(left).await? else {
                return Ok(None);
            };
            let Some(r) = Response::parse(&frame) else {
                continue;
            };
            if r.op != op::GET_SECURITY_INFO {
                continue;
            }
            let data = r.check(20).or_else(|_| r.check(12)).ok();
            return Ok(data.and_then(SecurityInfo::parse));
        }
    }
}
