//! execve of the program, as given: no PATH search (isolate's behaviour).

use crate::plan::ContainPlan;
use std::ffi::CString;

/// argv and envp as NULL-terminated pointer arrays, built before the resource
/// limits are set so that exec itself allocates nothing.
pub struct Prepared {
    program: CString,
    _argv: Vec<CString>,
    _env: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    env_ptrs: Vec<*const libc::c_char>,
}

impl Prepared {
    pub fn new(plan: &ContainPlan) -> Prepared {
        let argv = plan.argv.clone();
        let env = plan.env.clone();
        let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
        env_ptrs.push(std::ptr::null());
        Prepared {
            program: plan.program.clone(),
            _argv: argv,
            _env: env,
            argv_ptrs,
            env_ptrs,
        }
    }

    /// Returns only on failure, with errno.
    pub fn execve(&self) -> i32 {
        // SAFETY: program, argv and envp point into CStrings owned by self, and both
        // arrays are NULL-terminated.
        unsafe {
            libc::execve(
                self.program.as_ptr(),
                self.argv_ptrs.as_ptr(),
                self.env_ptrs.as_ptr(),
            )
        };
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOEXEC)
    }
}
