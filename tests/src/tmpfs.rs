//! Small tmpfs mounts for tests of full disks and read-only folders (Linux, as root).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on a fresh temporary folder; unmounted (lazily, so that a failed test cannot
/// leave it busy) when dropped.
pub struct Tmpfs {
    mount_point: PathBuf,
    // Dropped after the unmount: removes the (then empty) mount point.
    _holder: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (a `mount -o size=` value such as `512k`), read-only when
    /// `read_only`. The reason as text when this machine cannot (not Linux, not root, no
    /// `mount`), so that the caller can skip the test saying why.
    pub fn mount(size: &str, read_only: bool) -> Result<Self, String> {
        let holder = tempfile::Builder::new()
            .prefix("supcon-tmpfs-")
            .tempdir()
            .map_err(|e| format!("cannot create a mount point: {e}"))?;
        let mount_point = holder.path().join("mnt");
        std::fs::create_dir(&mount_point)
            .map_err(|e| format!("cannot create a mount point: {e}"))?;
        let mut options = format!("size={size},mode=0755");
        if read_only {
            options.push_str(",ro");
        }
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "supcon-test"])
            .arg(&mount_point)
            .output()
            .map_err(|e| format!("cannot run `mount`: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "`mount -t tmpfs -o {options}` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Self {
            mount_point,
            _holder: holder,
        })
    }

    /// The mounted folder.
    pub fn path(&self) -> &Path {
        &self.mount_point
    }

    /// Remounts the filesystem read-only (what a full or failing disk often becomes).
    ///
    /// # Panics
    /// When `mount -o remount,ro` fails.
    pub fn remount_read_only(&self) {
        let status = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.mount_point)
            .status()
            .expect("`mount` runs");
        assert!(
            status.success(),
            "cannot remount {} read-only",
            self.mount_point.display()
        );
    }

    /// Fills the filesystem until fewer than `leave` bytes are free, with a file named
    /// `filler` in its root. Returns the bytes still free.
    ///
    /// # Panics
    /// When the filler cannot be written for another reason than a full disk.
    pub fn fill(&self, leave: u64) -> u64 {
        use std::io::Write;
        let mut file = std::fs::File::create(self.mount_point.join("filler")).expect("filler");
        let chunk = vec![0xa5u8; 4096];
        while self.free_bytes() > leave {
            let len = ((self.free_bytes() - leave) as usize).min(chunk.len());
            match file.write(&chunk[..len.max(1)]) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("cannot fill {}: {e}", self.mount_point.display()),
            }
        }
        file.sync_all().ok();
        self.free_bytes()
    }

    /// Free bytes on the filesystem, from `df` (in 1-KiB blocks).
    pub fn free_bytes(&self) -> u64 {
        let output = Command::new("df")
            .args(["-k", "--output=avail"])
            .arg(&self.mount_point)
            .output()
            .expect("`df` runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let kib: u64 = text
            .lines()
            .nth(1)
            .and_then(|line| line.trim().parse().ok())
            .unwrap_or_else(|| panic!("cannot read `df` output {text:?}"));
        kib * 1024
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let status = Command::new("umount")
            .arg("-l")
            .arg(&self.mount_point)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("warning: cannot unmount {}", self.mount_point.display());
        }
    }
}
