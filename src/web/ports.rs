//! The page's byte links, each a [`Port`]: Web Serial (a real USB serial port), a WebSocket
//! bridge (binary frames: raw bytes, or RFC 2217 with baud and DTR/RTS — `otaflash sim --ws`,
//! websockify in front of an RFC 2217 or raw TCP serial server), and the in-page simulated chip.

pub use super::sim_port::{PageSim, PageSimPort};
use crate::loader::port::{Port, PortError};
use crate::loader::Via;
use crate::page::WsSpeaks;
use crate::wire::rfc2217::Client;
use gloo_timers::future::TimeoutFuture;
use js_sys::{Reflect, Uint8Array};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Milliseconds since page load.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

pub async fn sleep(d: Duration) {
    TimeoutFuture::new(d.as_millis().min(u32::MAX as u128) as u32).await
}

/// A DOMException's name ("NotFoundError", "InvalidStateError", ...), if it has one.
fn js_err_name(e: &JsValue) -> String {
    Reflect::get(e, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default()
}

fn js_err(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            Reflect::get(&e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Polls `a` until it completes or `timeout` passes: Some(output) or None.
async fn with_timeout<F: Future + Unpin>(a: &mut F, timeout: Duration) -> Option<F::Output> {
    let mut t = TimeoutFuture::new(timeout.as_millis().min(u32::MAX as u128) as u32);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = Pin::new(&mut *a).poll(cx) {
            return Poll::Ready(Some(v));
        }
        if Pin::new(&mut t).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Web Serial

/// The usual bridges' USB vendors, offered as filters; "any port" is always possible too.
pub use crate::chips::USB_VENDORS;

pub struct WebSerialPort {
    port: web_sys::SerialPort,
    reader: Option<web_sys::ReadableStreamDefaultReader>,
    writer: Option<web_sys::WritableStreamDefaultWriter>,
    pending: Option<JsFuture>,
    buf: VecDeque<u8>,
    opened: f64,
    /// USB vendor and product ids, when the browser tells them.
    usb: Option<(u16, u16)>,
    on_disconnect: Option<Closure<dyn FnMut(JsValue)>>,
}

impl WebSerialPort {
    /// Asks the user to pick a port (needs a user gesture). `filtered`: only the usual bridges.
    pub async fn request(filtered: bool) -> Result<web_sys::SerialPort, String> {
        let nav = web_sys::window().ok_or("no window")?.navigator();
        if Reflect::get(&nav, &"serial".into())
            .map(|v| v.is_undefined())
            .unwrap_or(true)
        {
            return Err("this browser has no Web Serial: use Chrome or Edge on a desktop, or the simulated chip".into());
        }
        let opts = web_sys::SerialPortRequestOptions::new();
        if filtered {
            let filters: Vec<web_sys::SerialPortFilter> = USB_VENDORS
                .iter()
                .map(|(vid, _)| {
                    let f = web_sys::SerialPortFilter::new();
                    f.set_usb_vendor_id(*vid);
                    f
                })
                .collect();
            opts.set_filters(&filters);
        }
        let p = JsFuture::from(nav.serial().request_port_with_options(&opts))
            .await
            .map_err(|e| {
                // The chooser was closed without a choice.
                if js_err_name(&e) == "NotFoundError" {
                    "no port was chosen".to_string()
                } else {
                    js_err(e)
                }
            })?;
        Ok(p.unchecked_into())
    }

    pub async fn open(port: web_sys::SerialPort, baud: u32) -> Result<Self, PortError> {
        let info = port.get_info();
        let usb = info.get_usb_vendor_id().zip(info.get_usb_product_id());
        let mut p = WebSerialPort {
            usb,
            on_disconnect: None,
            port,
            reader: None,
            writer: None,
            pending: None,
            buf: VecDeque::new(),
            opened: now_ms(),
        };
        p.open_at(baud).await?;
        Ok(p)
    }

    async fn open_at(&mut self, baud: u32) -> Result<(), PortError> {
        let opts = web_sys::SerialOptions::new(baud);
        opts.set_buffer_size(64 * 1024);
        JsFuture::from(self.port.open(&opts)).await.map_err(|e| {
            // NetworkError: the OS would not open it; InvalidStateError: open already.
            match js_err_name(&e).as_str() {
                "NetworkError" | "InvalidStateError" => PortError::Io(format!(
                    "{}: the port is busy (another program or browser tab has it open?)",
                    js_err(e)
                )),
                _ => Self::lost(js_err(e)),
            }
        })?;
        self.reader = Some(self.port.readable().get_reader().unchecked_into());
        self.writer = Some(
            self.port
                .writable()
                .get_writer()
                .map_err(|e| Self::lost(js_err(e)))?,
        );
        Ok(())
    }

    async fn release(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = JsFuture::from(r.cancel()).await;
            if let Some(p) = self.pending.take() {
                let _ = p.await;
            }
            r.release_lock();
        }
        if let Some(w) = self.writer.take() {
            w.release_lock();
        }
    }

    pub async fn close(mut self) {
        self.port.set_ondisconnect(None);
        self.release().await;
        let _ = JsFuture::from(self.port.close()).await;
    }

    fn watch_loss(&mut self, f: LossWatch) {
        let c = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            f("the serial port went away (unplugged, or the board reset its USB)".into())
        });
        self.port.set_ondisconnect(Some(c.as_ref().unchecked_ref()));
        self.on_disconnect = Some(c);
    }

    fn lost(e: impl Into<String>) -> PortError {
        PortError::Disconnected(format!("serial port: {}", e.into()))
    }
}

impl Port for WebSerialPort {
    async fn read(&mut self, out: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        if self.buf.is_empty() {
            let reader = self.reader.as_ref().ok_or_else(|| Self::lost("not open"))?;
            let pending = self
                .pending
                .get_or_insert_with(|| JsFuture::from(reader.read()));
            match with_timeout(pending, timeout).await {
                None => return Ok(0),
                Some(r) => {
                    self.pending = None;
                    let r = r.map_err(|e| Self::lost(js_err(e)))?;
                    if Reflect::get(&r, &"done".into())
                        .ok()
                        .and_then(|d| d.as_bool())
                        .unwrap_or(false)
                    {
                        return Err(Self::lost("the device went away"));
                    }
                    let v = Reflect::get(&r, &"value".into()).map_err(|e| Self::lost(js_err(e)))?;
                    self.buf.extend(Uint8Array::new(&v).to_vec());
                }
            }
        }
        let n = out.len().min(self.buf.len());
        for (d, s) in out.iter_mut().zip(self.buf.drain(..n)) {
            *d = s;
        }
        Ok(n)
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), PortError> {
        let w = self.writer.as_ref().ok_or_else(|| Self::lost("not open"))?;
        JsFuture::from(w.write_with_chunk(&Uint8Array::from(data)))
            .await
            .map_err(|e| Self::lost(js_err(e)))?;
        Ok(())
    }

    async fn set_signals(&mut self, dtr: bool, rts: bool) -> Result<(), PortError> {
        let s = web_sys::SerialOutputSignals::new();
        s.set_data_terminal_ready(dtr);
        s.set_request_to_send(rts);
        JsFuture::from(self.port.set_signals_with_signals(&s))
            .await
            .map_err(|e| Self::lost(js_err(e)))?;
        Ok(())
    }

    /// Web Serial cannot change the rate of an open port: close and reopen it.
    async fn set_baud(&mut self, baud: u32) -> Result<(), PortError> {
        self.release().await;
        self.buf.clear();
        JsFuture::from(self.port.close())
            .await
            .map_err(|e| Self::lost(js_err(e)))?;
        self.open_at(baud).await
    }

    async fn sleep(&mut self, d: Duration) {
        sleep(d).await
    }

    fn elapsed(&self) -> Duration {
        Duration::from_secs_f64((now_ms() - self.opened).max(0.0) / 1000.0)
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket byte bridge

#[derive(Default)]
struct WsShared {
    queue: VecDeque<u8>,
    waker: Option<Waker>,
    open: bool,
    closed: Option<String>,
    /// Told when the bridge closes the link (not when otaflash closes it).
    on_lost: Option<LossWatch>,
}

/// Called with why, when the link to the board is lost while nobody reads it.
pub type LossWatch = Rc<dyn Fn(String)>;

pub struct WsPort {
    ws: web_sys::WebSocket,
    /// Set for `rfc2217+ws://`: RFC 2217 inside the binary frames.
    rfc2217: Option<Client>,
    shared: Rc<RefCell<WsShared>>,
    opened: f64,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl WsPort {
    /// Connects to a bridge (`ws://`/`wss://` raw bytes, `rfc2217+ws://`/`rfc2217+wss://` RFC
    /// 2217; binary frames either way) and waits until the socket is open.
    pub async fn connect(bridge: &str) -> Result<WsPort, String> {
        let (speaks, url) = WsSpeaks::of(bridge)?;
        let ws = web_sys::WebSocket::new(url).map_err(js_err)?;
        ws.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let shared = Rc::new(RefCell::new(WsShared::default()));
        let wake = |s: &Rc<RefCell<WsShared>>| {
            if let Some(w) = s.borrow_mut().waker.take() {
                w.wake();
            }
        };
        let s1 = shared.clone();
        let on_message = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let e: web_sys::MessageEvent = e.unchecked_into();
            if let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
                s1.borrow_mut().queue.extend(Uint8Array::new(&buf).to_vec());
                wake(&s1);
            }
        });
        let s2 = shared.clone();
        let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            s2.borrow_mut().open = true;
            wake(&s2);
        });
        let s3 = shared.clone();
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            let watch = {
                let mut sh = s3.borrow_mut();
                sh.closed
                    .get_or_insert_with(|| "the WebSocket closed".into());
                sh.on_lost.clone().filter(|_| sh.open)
            };
            wake(&s3);
            if let Some(f) = watch {
                f("the WebSocket bridge closed the link".into());
            }
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_close.as_ref().unchecked_ref()));
        let mut port = WsPort {
            ws,
            rfc2217: (speaks == WsSpeaks::Rfc2217).then(Client::default),
            shared,
            opened: now_ms(),
            _handlers: vec![on_message, on_open, on_close],
        };
        let mut opened = std::future::poll_fn(|cx| {
            let mut s = port.shared.borrow_mut();
            if s.open {
                Poll::Ready(Ok(()))
            } else if let Some(e) = &s.closed {
                Poll::Ready(Err(format!("{url}: {e} before it connected")))
            } else {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        with_timeout(&mut opened, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| Err(format!("{url}: no answer within 5 s")))?;
        if port.rfc2217.is_some() {
            let hello = [Client::hello(), Client::baud(crate::loader::ROM_BAUD)].concat();
            port.send(&hello).map_err(|e| e.to_string())?;
        }
        Ok(port)
    }

    /// One binary frame as it is.
    fn send(&mut self, bytes: &[u8]) -> Result<(), PortError> {
        if let Some(e) = &self.shared.borrow().closed {
            return Err(PortError::Disconnected(e.clone()));
        }
        self.ws
            .send_with_u8_array(bytes)
            .map_err(|e| PortError::Disconnected(js_err(e)))
    }
}

impl Drop for WsPort {
    fn drop(&mut self) {
        // The socket outlives this port (it closes asynchronously and still fires events):
        // detach the handlers before their closures are dropped with it.
        self.ws.set_onmessage(None);
        self.ws.set_onopen(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

impl WsPort {
    /// What came in the frames, as it came.
    async fn read_frames(&mut self, out: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        let shared = self.shared.clone();
        let mut ready = std::future::poll_fn(move |cx| {
            let mut s = shared.borrow_mut();
            if !s.queue.is_empty() {
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = &s.closed {
                return Poll::Ready(Err(PortError::Disconnected(e.clone())));
            }
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        });
        match with_timeout(&mut ready, timeout).await {
            None => Ok(0),
            Some(Err(e)) => Err(e),
            Some(Ok(())) => {
                let mut s = self.shared.borrow_mut();
                let n = out.len().min(s.queue.len());
                for (d, b) in out.iter_mut().zip(s.queue.drain(..n)) {
                    *d = b;
                }
                Ok(n)
            }
        }
    }
}

impl Port for WsPort {
    async fn read(&mut self, out: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        let deadline = now_ms() + timeout.as_secs_f64() * 1000.0;
        loop {
            let left = Duration::from_secs_f64((deadline - now_ms()).max(0.0) / 1000.0);
            let n = self.read_frames(out, left).await?;
            let Some(c) = self.rfc2217.as_mut() else {
                return Ok(n);
            };
            if n == 0 {
                return Ok(0);
            }
            // Serial data only: negotiation answered, acknowledgements dropped.
            let (data, reply) = c.receive(&out[..n]);
            if !reply.is_empty() {
                self.send(&reply)?;
            }
            if !data.is_empty() {
                out[..data.len()].copy_from_slice(&data);
                return Ok(data.len());
            }
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), PortError> {
        match self.rfc2217 {
            Some(_) => self.send(&Client::send(data)),
            None => self.send(data),
        }
    }

    async fn set_signals(&mut self, dtr: bool, rts: bool) -> Result<(), PortError> {
        match self.rfc2217.as_mut() {
            Some(c) => {
                let m = c.signals(dtr, rts);
                self.send(&m)
            }
            None => Ok(()),
        }
    }

    async fn set_baud(&mut self, baud: u32) -> Result<(), PortError> {
        match self.rfc2217 {
            Some(_) => self.send(&Client::baud(baud)),
            None => Ok(()),
        }
    }

    fn can_reset(&self) -> bool {
        self.rfc2217.is_some()
    }

    fn has_baud(&self) -> bool {
        self.rfc2217.is_some()
    }

    async fn sleep(&mut self, d: Duration) {
        sleep(d).await
    }

    fn elapsed(&self) -> Duration {
        Duration::from_secs_f64((now_ms() - self.opened).max(0.0) / 1000.0)
    }
}

// ---------------------------------------------------------------------------------------------

/// Whichever link the user picked.
pub enum AnyPort {
    Serial(WebSerialPort),
    Ws(WsPort),
    Sim(PageSimPort),
}

macro_rules! each {
    ($self:ident, $p:ident => $e:expr) => {
        match $self {
            AnyPort::Serial($p) => $e,
            AnyPort::Ws($p) => $e,
            AnyPort::Sim($p) => $e,
        }
    };
}

impl Port for AnyPort {
    async fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        each!(self, p => p.read(buf, timeout).await)
    }
    async fn write(&mut self, data: &[u8]) -> Result<(), PortError> {
        each!(self, p => p.write(data).await)
    }
    async fn set_signals(&mut self, dtr: bool, rts: bool) -> Result<(), PortError> {
        each!(self, p => p.set_signals(dtr, rts).await)
    }
    async fn set_baud(&mut self, baud: u32) -> Result<(), PortError> {
        each!(self, p => p.set_baud(baud).await)
    }
    async fn sleep(&mut self, d: Duration) {
        each!(self, p => p.sleep(d).await)
    }
    fn elapsed(&self) -> Duration {
        each!(self, p => p.elapsed())
    }
    fn usb_ids(&self) -> Option<(u16, u16)> {
        match self {
            AnyPort::Serial(p) => p.usb,
            _ => None,
        }
    }
    fn can_reset(&self) -> bool {
        each!(self, p => p.can_reset())
    }
    fn has_baud(&self) -> bool {
        each!(self, p => p.has_baud())
    }
}

impl AnyPort {
    /// What the link goes through, for hints.
    pub fn via(&self) -> Via {
        match self {
            AnyPort::Ws(_) => Via::Network,
            p => Via::Serial(p.usb_ids().map(|(v, i)| crate::chips::UsbLink::of(v, i))),
        }
    }
}

impl AnyPort {
    /// Calls `f` when the link is lost while nobody reads it (a bridge closing, a USB port
    /// unplugged); the in-page simulated chip cannot be lost.
    pub fn watch_loss(&mut self, f: LossWatch) {
        match self {
            AnyPort::Serial(p) => p.watch_loss(f),
            AnyPort::Ws(p) => p.shared.borrow_mut().on_lost = Some(f),
            AnyPort::Sim(_) => {}
        }
    }

    pub async fn close(self) {
        if let AnyPort::Serial(p) = self {
            p.close().await
        }
    }
}
