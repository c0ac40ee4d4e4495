//! Host name in the box's own UTS namespace, so the program cannot learn the host's.

use crate::sys::error::StepError;

pub const BOX_HOSTNAME: &str = "rustbox";

pub fn set_hostname() -> Result<(), StepError> {
    nix::unistd::sethostname(BOX_HOSTNAME)
        .map_err(|e| StepError::nix("uts.hostname", BOX_HOSTNAME, e))?;
    let domain = b"(none)";
    // SAFETY: setdomainname with a static buffer and its length.
    if unsafe { libc::setdomainname(domain.as_ptr().cast(), domain.len()) } < 0 {
        return Err(StepError::last_os("uts.hostname", "setdomainname"));
    }
    let got =
        nix::unistd::gethostname().map_err(|e| StepError::nix("uts.hostname", "gethostname", e))?;
    if got.to_str() != Some(BOX_HOSTNAME) {
        return Err(StepError::new(
            "uts.hostname",
            format!("hostname reads back as {got:?}"),
        ));
    }
    Ok(())
}
