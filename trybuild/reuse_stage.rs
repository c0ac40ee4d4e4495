// a stage used twice: each step consumes its stage
use rustbox::{chain::{Fresh, Reporter}, plan::ContainPlan};
use rustbox::sys::error::StepError;

#[allow(unreachable_code, unused_variables)]
fn chain(plan: &ContainPlan, rep: &Reporter) -> Result<(), StepError> {
    let f = Fresh::enter(plan, rep);
    let a = f.private_mounts()?;
    let b = f.private_mounts()?;
    Ok(())
}

fn main() {}
