//! The only place that talks to libxgboost: a small safe interface over its C API.
//!
//! The `xgboost-rs` safe layer falls short for serving (it forces "0.0 means missing" on dense
//! matrices, runs a fixed 16 rounds in `Booster::train`, and panics on some errors), so this
//! module calls the `xgboost_rs_sys` functions directly and turns every failure into
//! [`XgbError`]. Nothing outside this module uses `unsafe` or a raw handle.
//!
//! A [`Booster`] is `Send` but not `Sync`: libxgboost keeps per-booster prediction buffers, so
//! each scoring thread owns its own copy (they are cheap, a few hundred KiB).

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use xgboost_rs_sys as sys;

/// A failure reported by libxgboost.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("xgboost: {0}")]
pub struct XgbError(pub String);

type Result<T> = std::result::Result<T, XgbError>;

fn check(code: i32) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: XGBGetLastError returns a thread-local, NUL-terminated string valid until the next
    // call on this thread; it is copied at once.
    let message = unsafe { CStr::from_ptr(sys::XGBGetLastError()) };
    Err(XgbError(message.to_string_lossy().into_owned()))
}

fn c_string(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| XgbError(format!("string with a NUL byte: {s:?}")))
}

/// A dense row-major matrix of features (NaN is missing), with optional labels, for training.
pub struct DMatrix {
    handle: sys::DMatrixHandle,
}

impl DMatrix {
    /// Copies `data` (`rows` × `data.len() / rows`) into libxgboost.
    ///
    /// # Errors
    /// When the shape does not divide or libxgboost refuses the data.
    pub fn dense(data: &[f32], rows: usize, labels: Option<&[f32]>) -> Result<Self> {
        if rows == 0 || !data.len().is_multiple_of(rows) {
            return Err(XgbError(format!(
                "{} values do not make {rows} rows",
                data.len()
            )));
        }
        let mut handle = ptr::null_mut();
        // SAFETY: data outlives the call, which copies it; handle is an out-pointer.
        check(unsafe {
            sys::XGDMatrixCreateFromMat(
                data.as_ptr(),
                rows as u64,
                (data.len() / rows) as u64,
                f32::NAN,
                &mut handle,
            )
        })?;
        let matrix = DMatrix { handle };
        if let Some(labels) = labels {
            if labels.len() != rows {
                return Err(XgbError(format!("{} labels for {rows} rows", labels.len())));
            }
            let field = c_string("label")?;
            // SAFETY: the label slice is copied by the call.
            check(unsafe {
                sys::XGDMatrixSetFloatInfo(
                    matrix.handle,
                    field.as_ptr(),
                    labels.as_ptr(),
                    rows as u64,
                )
            })?;
        }
        Ok(matrix)
    }
}

impl Drop for DMatrix {
    fn drop(&mut self) {
        // SAFETY: the handle came from XGDMatrixCreateFromMat and is freed once.
        unsafe { sys::XGDMatrixFree(self.handle) };
    }
}

/// A gradient-boosted tree model.
pub struct Booster {
    handle: sys::BoosterHandle,
}

// SAFETY: a booster handle may move between threads; it is never shared (`!Sync`).
unsafe impl Send for Booster {}

impl Booster {
    /// A new booster to be trained on `train` with `params` (`name`, `value`) set in order.
    ///
    /// # Errors
    /// When libxgboost rejects a parameter.
    pub fn for_training(train: &DMatrix, params: &[(&str, String)]) -> Result<Self> {
        let mut handle = ptr::null_mut();
        let dmats = [train.handle];
        // SAFETY: one valid DMatrix handle; the booster keeps its own reference to it.
        check(unsafe { sys::XGBoosterCreate(dmats.as_ptr(), 1, &mut handle) })?;
        let booster = Booster { handle };
        for (name, value) in params {
            booster.set_param(name, value)?;
        }
        Ok(booster)
    }

    /// Loads a model from XGBoost's JSON or binary JSON (UBJSON, `model.ubj`) model format;
    /// libxgboost tells them apart by their first bytes.
    ///
    /// # Errors
    /// When the bytes are not a model libxgboost can read.
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let mut handle = ptr::null_mut();
        // SAFETY: no DMatrix; handle is an out-pointer.
        check(unsafe { sys::XGBoosterCreate(ptr::null(), 0, &mut handle) })?;
        let booster = Booster { handle };
        // SAFETY: bytes outlive the call, which parses them.
        check(unsafe {
            sys::XGBoosterLoadModelFromBuffer(
                booster.handle,
                bytes.as_ptr().cast(),
                bytes.len() as u64,
            )
        })?;
        Ok(booster)
    }

    /// The number of features the learner takes.
    ///
    /// # Errors
    /// When libxgboost fails.
    pub fn num_features(&self) -> Result<usize> {
        let mut n = 0u64;
        // SAFETY: the handle is live; n is an out-pointer.
        check(unsafe { sys::XGBoosterGetNumFeature(self.handle, &mut n) })?;
        Ok(n as usize)
    }

    /// Sets one parameter (`nthread`, `eta`, ...).
    ///
    /// # Errors
    /// When libxgboost rejects it.
    pub fn set_param(&self, name: &str, value: &str) -> Result<()> {
        let (name, value) = (c_string(name)?, c_string(value)?);
        // SAFETY: both strings are NUL-terminated and outlive the call.
        check(unsafe { sys::XGBoosterSetParam(self.handle, name.as_ptr(), value.as_ptr()) })
    }

    /// Runs boosting round `iteration` on `train`.
    ///
    /// # Errors
    /// When libxgboost fails.
    pub fn update(&self, iteration: i32, train: &DMatrix) -> Result<()> {
        // SAFETY: both handles are live for the call.
        check(unsafe { sys::XGBoosterUpdateOneIter(self.handle, iteration, train.handle) })
    }

    /// The model in XGBoost's JSON model format (`model.json`).
    ///
    /// # Errors
    /// When libxgboost fails to serialise it.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        self.save(r#"{"format": "json"}"#)
    }

    /// The model in XGBoost's binary JSON format (UBJSON, `model.ubj`): the same document as
    /// [`Booster::to_json`], several times faster to load.
    ///
    /// # Errors
    /// When libxgboost fails to serialise it.
    pub fn to_ubj(&self) -> Result<Vec<u8>> {
        self.save(r#"{"format": "ubj"}"#)
    }

    fn save(&self, config: &str) -> Result<Vec<u8>> {
        let config = c_string(config)?;
        let mut len = 0u64;
        let mut out: *const c_char = ptr::null();
        // SAFETY: out points into a buffer owned by the booster until its next call; copied at once.
        check(unsafe {
            sys::XGBoosterSaveModelToBuffer(self.handle, config.as_ptr(), &mut len, &mut out)
        })?;
        // SAFETY: the call succeeded, so `out` holds `len` bytes, alive until the next call.
        Ok(unsafe { std::slice::from_raw_parts(out.cast::<u8>(), len as usize) }.to_vec())
    }

    /// Probabilities of the positive class for `rows` dense rows, in one call, without copying
    /// the data into a DMatrix (in-place prediction).
    ///
    /// # Errors
    /// When the shape does not divide or libxgboost fails.
    pub fn predict(&self, data: &[f32], rows: usize) -> Result<Vec<f32>> {
        if rows == 0 {
            return Ok(Vec::new());
        }
        if !data.len().is_multiple_of(rows) {
            return Err(XgbError(format!(
                "{} values do not make {rows} rows",
                data.len()
            )));
        }
        let cols = data.len() / rows;
        // The array-interface protocol: a pointer (as an integer), read-only, row-major f32.
        let values = c_string(&format!(
            r#"{{"data": [{}, true], "shape": [{rows}, {cols}], "typestr": "<f4", "version": 3}}"#,
            data.as_ptr() as usize
        ))?;
        let config = c_string(&predict_config(0, true))?;
        let mut shape: *const u64 = ptr::null();
        let mut dim = 0u64;
        let mut out: *const f32 = ptr::null();
        // SAFETY: `data` outlives the call and matches the declared shape; outputs are copied.
        check(unsafe {
            sys::XGBoosterPredictFromDense(
                self.handle,
                values.as_ptr(),
                config.as_ptr(),
                ptr::null_mut(),
                &mut shape,
                &mut dim,
                &mut out,
            )
        })?;
        // SAFETY: the call succeeded, so `out` holds one value per row, alive until the next call.
        Ok(unsafe { std::slice::from_raw_parts(out, rows) }.to_vec())
    }

    /// SHAP contributions: for each row, one value per feature then the bias, in margin units.
    /// Returns the values and their count per row.
    ///
    /// # Errors
    /// As [`Booster::predict`].
    pub fn contributions(&self, data: &[f32], rows: usize) -> Result<(Vec<f32>, usize)> {
        let per_row = data.len().checked_div(rows).unwrap_or(0) + 1;
        let matrix = DMatrix::dense(data, rows, None)?;
        let config = c_string(&predict_config(2, false))?;
        let mut shape: *const u64 = ptr::null();
        let mut dim = 0u64;
        let mut out: *const f32 = ptr::null();
        // SAFETY: handles live; the output (rows × (features + 1) values) points into
        // booster-owned memory and is copied before returning.
        check(unsafe {
            sys::XGBoosterPredictFromDMatrix(
                self.handle,
                matrix.handle,
                config.as_ptr(),
                &mut shape,
                &mut dim,
                &mut out,
            )
        })?;
        Ok((
            // SAFETY: the call succeeded, so `out` holds `rows × per_row` values, alive until
            // the next call.
            unsafe { std::slice::from_raw_parts(out, rows * per_row) }.to_vec(),
            per_row,
        ))
    }
}

/// The prediction config of libxgboost's C API: `kind` 0 for probabilities, 2 for SHAP
/// contributions; in-place prediction also needs `cache_id` and the missing-value marker.
fn predict_config(kind: u8, inplace: bool) -> String {
    let extra = if inplace {
        r#", "cache_id": 0, "missing": NaN"#
    } else {
        ""
    };
    format!(
        r#"{{"type": {kind}, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false{extra}}}"#
    )
}

impl Drop for Booster {
    fn drop(&mut self) {
        // SAFETY: the handle came from XGBoosterCreate and is freed once.
        unsafe { sys::XGBoosterFree(self.handle) };
    }
}

/// The libxgboost version linked into this binary, `major.minor.patch`.
pub fn version() -> String {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: three out-pointers.
    unsafe { sys::XGBoostVersion(&mut major, &mut minor, &mut patch) };
    format!("{major}.{minor}.{patch}")
}
