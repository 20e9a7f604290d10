//! Local simulators of the platforms switchyard speaks to.
