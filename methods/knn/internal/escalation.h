#pragma once
// The clustered search's next step below its recall target (internal to methods/knn/; escalation.cpp):
// each candidate step was tried on the recall sample, which gives its effect on the sample before the
// reverse offers that follow a step (clustered_search.cpp, ClusteredState::save): a lower bound of
// the estimate, not of its 95% bound.
namespace dq::detail {

struct StepTrial {
  bool allowed = false;  // tried, and within its work budget
  bool meets = false;    // the sample's recall after it meets the target (estimate or bound, as held)
  double gain = 0;       // the sample's recall after it, less before
  double work = 0;       // its cost on every row (rows compared; kRefineCost per refinement candidate)
};
enum class EscalationStep { Refine, TwiceTheCells, Exact };

// A step that meets the target ends the escalation: the cheaper of those that do (ties: twice the
// cells). Otherwise the step with more recall per unit of work (ties: twice the cells); neither
// allowed: the exact search.
EscalationStep choose_step(const StepTrial& refine, const StepTrial& twice);

}  // namespace dq::detail
