//! A strict reader of 8-bit `.npy` files (numpy's array format, versions 1 to 3).

use std::path::{Path, PathBuf};

use super::RobustnessError;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// An unsigned 8-bit array read from a `.npy` file, C order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyArray {
    /// The shape, outermost axis first.
    pub shape: Vec<usize>,
    /// The elements in C (row-major) order.
    pub data: Vec<u8>,
}

fn header_error(path: &Path, reason: impl Into<String>) -> RobustnessError {
    RobustnessError::NpyHeader {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The text after `'key':` in a header dictionary, up to the end of the value.
fn header_value<'a>(header: &'a str, key: &str, path: &Path) -> Result<&'a str, RobustnessError> {
    let pattern = format!("'{key}':");
    let start = header
        .find(&pattern)
        .ok_or_else(|| header_error(path, format!("no '{key}' entry in {header:?}")))?
        + pattern.len();
    Ok(header[start..].trim_start())
}

/// Parses the bytes of a `.npy` file holding an unsigned 8-bit array; `path` only names the
/// file in errors.
///
/// # Errors
/// [`RobustnessError::NpyMagic`] when the bytes do not start with numpy's magic string,
/// [`RobustnessError::NpyHeader`] for an unreadable header or Fortran order,
/// [`RobustnessError::NpyDtype`] for any element type other than `u1`,
/// [`RobustnessError::NpyLength`] when the data is shorter (truncated) or longer than the
/// shape says.
pub fn parse_npy_u8(bytes: &[u8], path: &Path) -> Result<NpyArray, RobustnessError> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(RobustnessError::NpyMagic {
            path: path.to_path_buf(),
        });
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(header_error(path, "file ends inside the header length"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        other => {
            return Err(header_error(
                path,
                format!("unsupported format version {other}"),
            ))
        }
    };
    let data_start = header_start + header_len;
    if bytes.len() < data_start {
        return Err(header_error(
            path,
            format!("file ends inside the {header_len}-byte header"),
        ));
    }
    let header = std::str::from_utf8(&bytes[header_start..data_start])
        .map_err(|_| header_error(path, "header is not text"))?;

    let descr = header_value(header, "descr", path)?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or_else(|| header_error(path, format!("unreadable 'descr' in {header:?}")))?;
    if !matches!(descr, "|u1" | "<u1" | ">u1" | "u1" | "=u1") {
        return Err(RobustnessError::NpyDtype {
            path: path.to_path_buf(),
            dtype: descr.to_string(),
        });
    }

    let fortran = header_value(header, "fortran_order", path)?;
    if fortran.starts_with("True") {
        return Err(header_error(
            path,
            "Fortran-ordered arrays are not supported",
        ));
    } else if !fortran.starts_with("False") {
        return Err(header_error(
            path,
            format!("unreadable 'fortran_order' in {header:?}"),
        ));
    }

    let shape_text = header_value(header, "shape", path)?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| header_error(path, format!("unreadable 'shape' in {header:?}")))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| header_error(path, format!("bad dimension {s:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let expected = shape
        .iter()
        .try_fold(1usize, |count, &dim| count.checked_mul(dim))
        .ok_or_else(|| header_error(path, format!("shape {shape:?} has too many elements")))?;
    let actual = bytes.len() - data_start;
    if actual != expected {
        return Err(RobustnessError::NpyLength {
            path: path.to_path_buf(),
            shape,
            expected,
            actual,
        });
    }
    Ok(NpyArray {
        shape,
        data: bytes[data_start..].to_vec(),
    })
}

/// Reads a `.npy` file holding an unsigned 8-bit array.
///
/// # Errors
/// [`RobustnessError::Io`] when the file cannot be read, and those of [`parse_npy_u8`].
pub fn read_npy_u8(path: impl AsRef<Path>) -> Result<NpyArray, RobustnessError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| RobustnessError::Io {
        path: PathBuf::from(path),
        source,
    })?;
    parse_npy_u8(&bytes, path)
}

/// Encodes an unsigned 8-bit array as version-1 `.npy` bytes (for tests and tools).
pub fn encode_npy_u8(shape: &[usize], data: &[u8]) -> Vec<u8> {
    assert_eq!(
        shape.iter().product::<usize>(),
        data.len(),
        "shape {shape:?} does not hold {} bytes",
        data.len()
    );
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad with spaces so that the data starts at a multiple of 64, ending with a newline.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = MAGIC.to_vec();
    bytes.extend([1, 0]);
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strict_errors() {
        let path = Path::new("x.npy");
        let bytes = encode_npy_u8(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(
            (bytes.len() - 6) % 64,
            0,
            "data starts on a 64-byte boundary"
        );
        let array = parse_npy_u8(&bytes, path).unwrap();
        assert_eq!(array.shape, vec![2, 3]);
        assert_eq!(array.data, vec![1, 2, 3, 4, 5, 6]);

        let truncated = &bytes[..bytes.len() - 1];
        let err = parse_npy_u8(truncated, path).unwrap_err().to_string();
        assert!(
            err.contains("x.npy") && err.contains('5') && err.contains('6'),
            "{err}"
        );

        let mut bad_magic = bytes.clone();
        bad_magic[1] = b'X';
        assert!(matches!(
            parse_npy_u8(&bad_magic, path),
            Err(RobustnessError::NpyMagic { .. })
        ));

        let mut float = bytes.clone();
        let at = float.windows(3).position(|w| w == b"|u1").unwrap();
        float[at..at + 3].copy_from_slice(b"<f4");
        let err = parse_npy_u8(&float, path).unwrap_err();
        assert!(
            matches!(&err, RobustnessError::NpyDtype { dtype, .. } if dtype == "<f4"),
            "{err}"
        );

        let one_d = encode_npy_u8(&[4], &[9, 8, 7, 6]);
        assert_eq!(parse_npy_u8(&one_d, path).unwrap().shape, vec![4]);
    }
}
