// the streams wired before the program has a process group of its own
use rustbox::{chain::{Fresh, Reporter}, plan::ContainPlan};
use rustbox::sys::error::StepError;

#[allow(unreachable_code, unused_variables)]
fn chain(plan: &ContainPlan, rep: &Reporter) -> Result<(), StepError> {
    let s = Fresh::enter(plan, rep).private_mounts()?.new_root()?.hostname()?.network()?.credentials()?.stdio()?;
    Ok(())
}

fn main() {}
