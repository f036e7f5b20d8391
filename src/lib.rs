//! cms-invitations: an Invitations content-type module for headless CMSs.

pub mod domain;
