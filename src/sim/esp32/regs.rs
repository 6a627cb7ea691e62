//! Registers the host reads and writes: the chip's identity and eFuses, and the SPI
//! peripheral the ROM's flash commands drive.

use super::*;

impl Esp32 {
    pub(super) fn read_reg(&self, addr: u32) -> u32 {
        let chip = self.config.chip;
        if addr == chips::CHIP_DETECT_MAGIC_REG {
            return chip.magic.first().copied().unwrap_or(0);
        }
        let Some(rom) = chip.rom else { return 0 };
        let spi = rom.spi;
        if let Some(v) = (rom.sim.register)(addr, self.config.mac) {
            return v | self.config.security.efuse_bits(&rom.security, addr);
        }
        // The calibration that makes the ROM's crystal estimate rom_xtal_estimate_hz.
        if let Some(c) = rom.crystal.filter(|c| c.calibration_reg == addr) {
            let ck8m = (rom.sim.register)(c.ck8m_reg, self.config.mac).unwrap_or(0);
            return c.calibration_for(self.config.rom_xtal_estimate_hz, ck8m);
        }
        match addr {
            a if a == rom.uart_clkdiv => (rom.sim.xtal_hz as f64 / self.baud as f64).round() as u32,
            a if (spi.base..spi.base + 0x100).contains(&a) => {
                self.spi_regs[((a - spi.base) / 4) as usize]
            }
            _ => 0,
        }
    }

    pub(super) fn write_reg(&mut self, addr: u32, value: u32, mask: u32) {
        let Some(rom) = self.config.chip.rom else {
            return;
        };
        let spi = rom.spi;
        if !(spi.base..spi.base + 0x100).contains(&addr) {
            return;
        }
        let word = |a: u32| ((a - spi.base) / 4) as usize;
        let i = word(addr);
        self.spi_regs[i] = (self.spi_regs[i] & !mask) | (value & mask);
        if addr == spi.cmd() && self.spi_regs[i] & SpiRegs::CMD_USR != 0 {
            // Run the user command in USER2's low bits; the answer lands in W0.
            let command = self.spi_regs[word(spi.usr2())] & 0xFFFF;
            self.spi_regs[word(spi.w0())] = match command {
                0x9F => self.config.flash_id, // RDID
                _ => 0,                       // status 0, no SFDP, resets
            };
            self.spi_regs[i] = 0;
        }
    }
}
