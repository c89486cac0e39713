//! Named result types of the binding: frozen classes with read-only fields and a `__repr__`,
//! returned instead of long tuples. Numbers still cross as numpy arrays (the fields hold them).

use pyo3::prelude::*;
use pyo3::types::PyAnyMethods;

/// Arrays longer than this are shown by dtype and length only in a `__repr__`.
const REPR_MAX_ITEMS: usize = 8;

/// `repr` of one field inside a result's `__repr__`.
pub trait FieldRepr {
    fn field_repr(&self, py: Python<'_>) -> PyResult<String>;
}

impl FieldRepr for f64 {
    fn field_repr(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.into_pyobject(py)?.repr()?.to_string())
    }
}

impl FieldRepr for usize {
    fn field_repr(&self, _py: Python<'_>) -> PyResult<String> {
        Ok(self.to_string())
    }
}

impl FieldRepr for bool {
    fn field_repr(&self, _py: Python<'_>) -> PyResult<String> {
        Ok(if *self { "True" } else { "False" }.to_string())
    }
}

impl<T> FieldRepr for Py<T> {
    /// Python's `repr`, except that a long array or list is summarised
    /// (`array(dtype=int64, len=1000)`, `list(len=1000)`).
    fn field_repr(&self, py: Python<'_>) -> PyResult<String> {
        let obj = self.bind(py).as_any();
        let len = obj.len().ok();
        match len {
            Some(n) if n > REPR_MAX_ITEMS => {
                if let Ok(dtype) = obj.getattr("dtype") {
                    Ok(format!("array(dtype={}, len={n})", dtype.str()?))
                } else {
                    Ok(format!("{}(len={n})", obj.get_type().name()?))
                }
            }
            _ => Ok(obj.repr()?.to_string()),
        }
    }
}

/// Define a frozen result class `$rust` (Python name `$py` in `ssdfl._core`) with read-only
/// fields and a `__repr__` listing them in order.
macro_rules! result_class {
    (
        $(#[$meta:meta])*
        $rust:ident as $py:literal {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[pyclass(name = $py, module = "ssdfl._core", frozen, get_all)]
        pub struct $rust {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        #[pymethods]
        impl $rust {
            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                use $crate::results::FieldRepr;
                let parts: Vec<String> = vec![$(
                    format!("{}={}", stringify!($field), self.$field.field_repr(py)?)
                ),*];
                Ok(format!("{}({})", $py, parts.join(", ")))
            }
        }
    };
}
pub(crate) use result_class;
