// The chain in its one valid order compiles.
use rustbox::{chain::{Fresh, Reporter}, plan::ContainPlan};
use rustbox::sys::error::StepError;

#[allow(dead_code)]
fn chain(plan: &ContainPlan, rep: &Reporter) -> Result<i32, StepError> {
    let sealed = Fresh::enter(plan, rep)
        .private_mounts()?
        .new_root()?
        .hostname()?
        .network()?
        .credentials()?
        .process_group()?
        .stdio()?
        .hygiene()?
        .drop_capabilities()?
        .no_new_privs()?
        .landlock()?
        .rlimits()?
        .seccomp()?;
    sealed.exec()
}

fn main() {}
