//! Operator sugar: `&a + &b`, `&a * 2.0`, `-&a`. These panic where the named methods
//! return an error, with the same message; use the methods when shapes come from input.

use crate::tensor::Tensor;
use ferrograd_linalg::Scalar;
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $scalar_method:ident) => {
        impl<T: Scalar> $trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            /// # Panics
            /// When the shapes do not broadcast, with the error's message.
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                Tensor::$method(self, rhs).unwrap_or_else(|e| panic!("{e}"))
            }
        }

        impl<T: Scalar> $trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            /// # Panics
            /// When the shapes do not broadcast, with the error's message.
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                Tensor::$method(&self, &rhs).unwrap_or_else(|e| panic!("{e}"))
            }
        }

        impl<T: Scalar> $trait<T> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.$scalar_method(rhs)
            }
        }

        impl<T: Scalar> $trait<T> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.$scalar_method(rhs)
            }
        }
    };
}

binary_operator!(Add, add, add_scalar);
binary_operator!(Sub, sub, sub_scalar);
binary_operator!(Mul, mul, mul_scalar);
binary_operator!(Div, div, div_scalar);

impl<T: Scalar> Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(self)
    }
}

impl<T: Scalar> Neg for Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(&self)
    }
}
