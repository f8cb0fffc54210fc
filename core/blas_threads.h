#pragma once
// BLAS thread control: many small GEMMs side by side on OpenMP threads instead of one BLAS pool.
namespace dq {

// While alive, OpenBLAS (when it is the BLAS in the process) runs each call on the calling thread, so
// that many small GEMMs can run side by side on OpenMP threads instead of handing every call to
// OpenBLAS's own thread pool. A no-op with other BLAS libraries.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int saved_ = 0;
};

}  // namespace dq
