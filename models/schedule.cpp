#include "models/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "models/models.h"

namespace dq {

int64_t batches_per_epoch(int64_t n, int64_t batch, bool drop_last) {
  DQ_ASSERT(batch > 0, "batch size must be positive");
  if (n <= 0) return 0;
  if (drop_last) return n >= batch ? n / batch : 1;
  int64_t full = (n + batch - 1) / batch;
  if (n >= 2 && n % batch == 1) --full;  // the trainer skips a last batch of one image
  return full;
}

StepPlan plan_steps(const TrainRecipe& recipe, int64_t n) {
  StepPlan plan;
  plan.batches_per_epoch = batches_per_epoch(n, recipe.batch_size, recipe.drop_last);
  if (plan.batches_per_epoch == 0) return plan;
  const int64_t reference = recipe.budget == Budget::Steps && recipe.full_train_samples > 0 ? recipe.full_train_samples : n;
  plan.epoch_steps = batches_per_epoch(reference, recipe.batch_size, recipe.drop_last);
  const double epochs = static_cast<double>(recipe.epochs) + recipe.partial_epoch;
  // The tolerance keeps 10 x 0.3 = 3.0000000000000004 at 3 steps.
  int64_t total = static_cast<int64_t>(std::ceil(static_cast<double>(plan.epoch_steps) * epochs - 1e-9));
  if (recipe.min_steps > 0) {  // whole epochs, as many as min_steps needs
    const int64_t per_epoch = std::max<int64_t>(1, (n + recipe.batch_size - 1) / recipe.batch_size);
    total = std::max(total, (recipe.min_steps + per_epoch - 1) / per_epoch * plan.batches_per_epoch);
  }
  plan.total_steps = std::max<int64_t>(total, 0);
  plan.epochs = (plan.total_steps + plan.batches_per_epoch - 1) / plan.batches_per_epoch;
  return plan;
}

double piecewise_linear_factor(int64_t step, int64_t total, double start, double peak_at, double end) {
  if (total <= 0) return start;
  const auto peak = static_cast<int64_t>(std::floor(peak_at * static_cast<double>(total)));
  const auto s = static_cast<double>(step);
  if (step < peak) return start + (1.0 - start) * s / static_cast<double>(peak);
  if (peak >= total) return 1.0;
  return 1.0 + (end - 1.0) * (s - static_cast<double>(peak)) / static_cast<double>(total - peak);
}

double scheduled_lr(double base_lr, const TrainRecipe& recipe, const StepPlan& plan, int64_t epoch, int64_t step) {
  switch (recipe.schedule) {
    case Schedule::Cosine:
      return base_lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(plan.epochs)));
    case Schedule::Constant: return base_lr;
    case Schedule::PiecewiseLinear:
      return base_lr * piecewise_linear_factor(step, plan.total_steps, recipe.lr_start, recipe.lr_peak_at, recipe.lr_end);
  }
  DQ_ASSERT(false, "unhandled schedule");
  return base_lr;
}

double lookahead_decay_at(int64_t step, int64_t total, double decay, int64_t every, double power) {
  const double fraction = total > 0 ? static_cast<double>(step) / static_cast<double>(total) : 1.0;
  return std::pow(decay, static_cast<double>(every)) * std::pow(fraction, power);
}

}  // namespace dq
