//! Operator sugar for [`Vector`] and [`Matrix`]: `+`, `-`, `*`, `/`, unary `-` and the
//! compound assignments.
//!
//! Operators that can fail on shapes panic, with exactly the `Display` message of the
//! error their fallible twin returns (`&a + &b` ⇔ [`Matrix::try_add`], `&a * &b` ⇔
//! [`Matrix::matmul`], `&a * &x` ⇔ [`Matrix::matvec`]). Scalar `*` and `/` cannot fail;
//! `/` follows IEEE arithmetic like the element type itself ([`Vector::checked_div_scalar`]
//! and [`Matrix::checked_div_scalar`] refuse a zero divisor instead).
//!
//! Every binary operator is implemented for all four combinations of owned and borrowed
//! operands; an owned left operand of an element-wise operation is reused for the result.

use crate::{LinalgError, Matrix, Scalar, Vector};
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// Unwraps the result of a fallible twin, panicking with the error's message.
#[track_caller]
fn or_panic<R>(result: Result<R, LinalgError>) -> R {
    match result {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

/// Element-wise `+`/`-` between two values of the same type, reusing an owned lhs.
macro_rules! elementwise_op {
    ($ty:ident, $trait:ident, $method:ident, $assign_trait:ident, $assign_method:ident,
     $twin:ident, $opname:literal, $op:tt, $op_assign:tt) => {
        impl<T: Scalar> $trait<&$ty<T>> for &$ty<T> {
            type Output = $ty<T>;
            #[track_caller]
            fn $method(self, rhs: &$ty<T>) -> $ty<T> {
                or_panic(self.$twin(rhs))
            }
        }
        impl<T: Scalar> $trait<$ty<T>> for &$ty<T> {
            type Output = $ty<T>;
            #[track_caller]
            fn $method(self, rhs: $ty<T>) -> $ty<T> {
                or_panic(self.$twin(&rhs))
            }
        }
        impl<T: Scalar> $trait<&$ty<T>> for $ty<T> {
            type Output = $ty<T>;
            #[track_caller]
            fn $method(mut self, rhs: &$ty<T>) -> $ty<T> {
                or_panic(self.zip_assign($opname, rhs, |a, b| *a $op_assign b));
                self
            }
        }
        impl<T: Scalar> $trait<$ty<T>> for $ty<T> {
            type Output = $ty<T>;
            #[track_caller]
            fn $method(self, rhs: $ty<T>) -> $ty<T> {
                self $op &rhs
            }
        }
        impl<T: Scalar> $assign_trait<&$ty<T>> for $ty<T> {
            #[track_caller]
            fn $assign_method(&mut self, rhs: &$ty<T>) {
                or_panic(self.zip_assign($opname, rhs, |a, b| *a $op_assign b));
            }
        }
        impl<T: Scalar> $assign_trait<$ty<T>> for $ty<T> {
            #[track_caller]
            fn $assign_method(&mut self, rhs: $ty<T>) {
                self.$assign_method(&rhs);
            }
        }
    };
}

elementwise_op!(Vector, Add, add, AddAssign, add_assign, try_add, "add", +, +=);
elementwise_op!(Vector, Sub, sub, SubAssign, sub_assign, try_sub, "sub", -, -=);
elementwise_op!(Matrix, Add, add, AddAssign, add_assign, try_add, "add", +, +=);
elementwise_op!(Matrix, Sub, sub, SubAssign, sub_assign, try_sub, "sub", -, -=);

/// Scalar `*` and `/` on the right, the compound forms, and unary minus.
macro_rules! scalar_ops {
    ($ty:ident) => {
        impl<T: Scalar> Mul<T> for &$ty<T> {
            type Output = $ty<T>;
            fn mul(self, c: T) -> $ty<T> {
                self.scale(c)
            }
        }
        impl<T: Scalar> Mul<T> for $ty<T> {
            type Output = $ty<T>;
            fn mul(mut self, c: T) -> $ty<T> {
                self *= c;
                self
            }
        }
        impl<T: Scalar> Div<T> for &$ty<T> {
            type Output = $ty<T>;
            fn div(self, c: T) -> $ty<T> {
                self.div_scalar(c)
            }
        }
        impl<T: Scalar> Div<T> for $ty<T> {
            type Output = $ty<T>;
            fn div(mut self, c: T) -> $ty<T> {
                self /= c;
                self
            }
        }
        impl<T: Scalar> MulAssign<T> for $ty<T> {
            fn mul_assign(&mut self, c: T) {
                self.as_mut_slice().iter_mut().for_each(|v| *v *= c);
            }
        }
        impl<T: Scalar> DivAssign<T> for $ty<T> {
            fn div_assign(&mut self, c: T) {
                self.as_mut_slice().iter_mut().for_each(|v| *v /= c);
            }
        }
        impl<T: Scalar> Neg for &$ty<T> {
            type Output = $ty<T>;
            fn neg(self) -> $ty<T> {
                self.map(|v| -v)
            }
        }
        impl<T: Scalar> Neg for $ty<T> {
            type Output = $ty<T>;
            fn neg(mut self) -> $ty<T> {
                self.as_mut_slice().iter_mut().for_each(|v| *v = -*v);
                self
            }
        }
    };
}

scalar_ops!(Vector);
scalar_ops!(Matrix);

/// `c * x` with the scalar on the left, for the two concrete element types (a generic
/// `impl Mul<Vector<T>> for T` is not allowed by the orphan rule).
macro_rules! scalar_lhs {
    ($t:ty) => {
        impl Mul<Vector<$t>> for $t {
            type Output = Vector<$t>;
            fn mul(self, x: Vector<$t>) -> Vector<$t> {
                x * self
            }
        }
        impl Mul<&Vector<$t>> for $t {
            type Output = Vector<$t>;
            fn mul(self, x: &Vector<$t>) -> Vector<$t> {
                x * self
            }
        }
        impl Mul<Matrix<$t>> for $t {
            type Output = Matrix<$t>;
            fn mul(self, a: Matrix<$t>) -> Matrix<$t> {
                a * self
            }
        }
        impl Mul<&Matrix<$t>> for $t {
            type Output = Matrix<$t>;
            fn mul(self, a: &Matrix<$t>) -> Matrix<$t> {
                a * self
            }
        }
    };
}

scalar_lhs!(f32);
scalar_lhs!(f64);

/// Products: `Matrix * Matrix` and `Matrix * Vector`, all ownership combinations.
macro_rules! product_op {
    ($rhs:ident, $out:ident, $twin:ident) => {
        impl<T: Scalar> Mul<&$rhs<T>> for &Matrix<T> {
            type Output = $out<T>;
            #[track_caller]
            fn mul(self, rhs: &$rhs<T>) -> $out<T> {
                or_panic(self.$twin(rhs))
            }
        }
        impl<T: Scalar> Mul<$rhs<T>> for &Matrix<T> {
            type Output = $out<T>;
            #[track_caller]
            fn mul(self, rhs: $rhs<T>) -> $out<T> {
                or_panic(self.$twin(&rhs))
            }
        }
        impl<T: Scalar> Mul<&$rhs<T>> for Matrix<T> {
            type Output = $out<T>;
            #[track_caller]
            fn mul(self, rhs: &$rhs<T>) -> $out<T> {
                or_panic(self.$twin(rhs))
            }
        }
        impl<T: Scalar> Mul<$rhs<T>> for Matrix<T> {
            type Output = $out<T>;
            #[track_caller]
            fn mul(self, rhs: $rhs<T>) -> $out<T> {
                or_panic(self.$twin(&rhs))
            }
        }
    };
}

product_op!(Matrix, Matrix, matmul);
product_op!(Vector, Vector, matvec);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_and_borrowed_operands_agree() {
        let a = Vector::from([1.0f64, 2.0]);
        let b = Vector::from([0.5f64, -4.0]);
        let want = vec![1.5, -2.0];
        assert_eq!((&a + &b).into_vec(), want);
        assert_eq!((a.clone() + &b).into_vec(), want);
        assert_eq!((&a + b.clone()).into_vec(), want);
        assert_eq!((a.clone() + b.clone()).into_vec(), want);
        let mut c = a.clone();
        c -= &b;
        assert_eq!(c.into_vec(), vec![0.5, 6.0]);
        assert_eq!((2.0 * &a).into_vec(), vec![2.0, 4.0]);
        assert_eq!((a.clone() / 2.0).into_vec(), vec![0.5, 1.0]);
        assert_eq!((-a).into_vec(), vec![-1.0, -2.0]);
    }

    #[test]
    #[should_panic(expected = "add: shape mismatch between [2, 1] and [1, 2]")]
    fn matrix_add_panics_with_the_error_message() {
        let _ = Matrix::<f32>::zeros(2, 1) + Matrix::zeros(1, 2);
    }

    #[test]
    #[should_panic(expected = "matvec: shape mismatch between [2, 3] and [2]")]
    fn matvec_panics_with_the_error_message() {
        let _ = Matrix::<f32>::zeros(2, 3) * Vector::zeros(2);
    }
}
