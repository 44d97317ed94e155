#pragma once

// Full-reference image quality metrics for the golden-image tests: how close an output is to a
// reference of the same size.
//
// PSNR is OpenCV's (cv::PSNR, peak 255), over every channel.
//
// SSIM is the structural similarity index of Wang, Bovik, Sheikh and Simoncelli ("Image quality
// assessment: from error visibility to structural similarity", IEEE Trans. Image Processing
// 13(4), 2004) with the paper's standard parameters, on luma only:
//   SSIM(x, y) = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))
// where the local means, variances and covariance are taken under an 11×11 Gaussian window of
// σ = 1.5 (normalised to sum 1), C1 = (0.01 L)², C2 = (0.03 L)², L = 255. The index is the mean
// of that map over the windows that lie wholly inside the image (the paper's "valid" region),
// or over all of it when the image is smaller than one window. The authors' later reference code
// (ssim.m, 2009) first downsamples by round(short side / 256); for the golden images (short side
// at most 300) that factor is 1, so this does not.

#include <opencv2/core.hpp>

namespace pixq::imaging::testing {

// Rec. 601 luma (0.299 R + 0.587 G + 0.114 B), unrounded, as CV_32F, of an 8-bit image with 1
// (already grey), 3 (BGR) or 4 (BGRA; alpha ignored) channels.
[[nodiscard]] cv::Mat Luma(const cv::Mat& image);

// SSIM of the luma of two images of the same size, in [-1, 1]; 1 (to rounding) when the lumas
// are equal.
[[nodiscard]] double Ssim(const cv::Mat& a, const cv::Mat& b);

// PSNR in dB of two images of the same size. Compared channel by channel when both have the same
// number, by luma otherwise (a grey reference against a decoder's three equal channels). Equal
// images give kIdentical.
inline constexpr double kIdentical = 999.0;
[[nodiscard]] double Psnr(const cv::Mat& a, const cv::Mat& b);

}  // namespace pixq::imaging::testing
