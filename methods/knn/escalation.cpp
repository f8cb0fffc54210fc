// The clustered search's next step below its recall target (internal/escalation.h).
#include "methods/knn/internal/escalation.h"

namespace dq::detail {

EscalationStep choose_step(const StepTrial& refine, const StepTrial& twice) {
  const bool refine_ends = refine.allowed && refine.meets, twice_ends = twice.allowed && twice.meets;
  bool refine_ahead = false;
  if (refine_ends || twice_ends) refine_ahead = refine_ends && (!twice_ends || refine.work < twice.work);
  else refine_ahead = refine.allowed && (!twice.allowed || refine.gain * twice.work > twice.gain * refine.work);
  if (refine_ahead) return EscalationStep::Refine;
  return twice.allowed ? EscalationStep::TwiceTheCells : EscalationStep::Exact;
}

}  // namespace dq::detail
