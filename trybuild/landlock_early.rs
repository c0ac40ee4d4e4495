// Landlock before no_new_privs
use rustbox::{chain::{Fresh, Reporter}, plan::ContainPlan};
use rustbox::sys::error::StepError;

#[allow(unreachable_code, unused_variables)]
fn chain(plan: &ContainPlan, rep: &Reporter) -> Result<(), StepError> {
    let s = Fresh::enter(plan, rep).private_mounts()?.new_root()?.hostname()?.network()?.credentials()?.process_group()?.stdio()?.hygiene()?.drop_capabilities()?.landlock()?;
    Ok(())
}

fn main() {}
