// credentials dropped before the root is built (mounts would fail)
use rustbox::{chain::{Fresh, Reporter}, plan::ContainPlan};
use rustbox::sys::error::StepError;

#[allow(unreachable_code, unused_variables)]
fn chain(plan: &ContainPlan, rep: &Reporter) -> Result<(), StepError> {
    let s = Fresh::enter(plan, rep).private_mounts()?.credentials()?;
    Ok(())
}

fn main() {}
