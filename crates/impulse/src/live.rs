//! The configuration in force. Every long-lived part holds a [`LiveConfig`] and takes the
//! current [`Config`] when it starts a piece of work (a delivery attempt, an SMTP session, an
//! MM7 request), so a reload takes effect at the next piece of work while work already started
//! finishes under the configuration it began with. Replacing it is `reload`'s job.
//!
//! A read is a read lock held only to clone an `Arc`: std's `RwLock` does that well enough
//! that a crate (arc-swap) would buy nothing measurable here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use impulse_config::Config;

#[derive(Clone)]
pub struct LiveConfig {
    current: Arc<RwLock<Arc<Config>>>,
    generation: Arc<AtomicU64>,
}

impl LiveConfig {
    pub fn new(cfg: Arc<Config>) -> Self {
        LiveConfig {
            current: Arc::new(RwLock::new(cfg)),
            generation: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The configuration in force now.
    pub fn get(&self) -> Arc<Config> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The configuration in force and its generation, read together.
    pub fn get_with_generation(&self) -> (Arc<Config>, u64) {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        (current.clone(), self.generation.load(Ordering::Acquire))
    }

    /// Puts `cfg` in force; returns the new generation (1 is the configuration started with).
    /// The generation changes under the same lock as the configuration, so
    /// [`LiveConfig::get_with_generation`] never pairs one with the other's.
    pub fn replace(&self, cfg: Arc<Config>) -> u64 {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *current = cfg;
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// How many configurations have been in force, this one included.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
