//! The agent engine: providers, the run loop, skills, memory recall, webhook signing and job
//! handlers. Empty until the runs issue; the crate exists so the layout's boundaries hold.
