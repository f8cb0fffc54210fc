# The producers of dqbench's artefacts and the sources that make their bytes: the one table the build
# derives each producer's code identity from (cmake/code_identity.cmake writes it into
# build/generated/code_identity.cpp; core/code_identity.h reads it). A cached artefact's key holds its
# producer's identity, so editing any file listed here rebuilds that producer's artefacts and, through
# their content hashes, everything downstream of them. Nobody bumps a version by hand.
#
# DQ_PRODUCER_<name>_SOURCES: files (relative to the source root) whose change may change the bytes.
# DQ_PRODUCER_<name>_LIBRARIES: names of the library versions that enter it (keys of DQ_LIBRARY_<key>,
# set in CMakeLists.txt from the packages found).
# Every .cpp/.h under datasets/, methods/, patching/ and models/ is either in some producer or in
# DQ_SOURCES_WITHOUT_ARTEFACTS (ctest cmake_producer_sources checks both lists against the tree).
#
# The names are core/code_identity.h's Producer enum, in the same order.
set(DQ_PRODUCERS
  dataset            # decoded dataset (datasets/decode_cache.h)
  extractor_network  # the proxy extractor's trained weights (.pt)
  embeddings         # the extractor's embeddings of the training split (.npy)
  knn_graph          # per-class KNN graph (methods/knn/)
  bins               # per-class GraphCut bins (methods/graphcut/)
  patch_scores       # GradCAM++ patch rankings (patching/patch_stage.cpp RankingCache)
  mae                # the in-project masked autoencoder (.pt)
  selection          # the selection methods: the ordered ids and keep fractions a method returns
  patch_stage        # SPD, dropping and reconstruction: the stored selection and its images
  metrics            # coverage and redundancy of a selection
  train              # the target network's training and evaluation (top-1)
)

set(DQ_CORE_NUMERIC_SOURCES core/rng.cpp core/rng.h core/npy.cpp core/npy.h)
set(DQ_DEVICE_BATCH_SOURCES models/device_batch.cpp models/device_batch.h)
set(DQ_NETWORK_SOURCES
  ${DQ_DEVICE_BATCH_SOURCES} models/device.cpp models/device.h models/device_specs.cpp models/models.h models/networks.cpp models/networks.h
  models/recipe_specs.cpp models/trainer.cpp models/airbench94.cpp models/airbench94.h models/compute_mode.cpp
  models/compute_mode.h models/evaluation.cpp models/evaluation.h models/lookahead.cpp models/lookahead.h
  models/optimizer.cpp models/optimizer.h models/schedule.cpp models/schedule.h)

set(DQ_PRODUCER_dataset_SOURCES
  datasets/big_buffer.h datasets/cifar_binary.cpp datasets/class_folders.cpp datasets/class_folders.h
  datasets/clustered_gaussian.cpp datasets/clustered_gaussian.h datasets/dataset.cpp datasets/dataset.h
  core/image_set.cpp core/image_set.h
  datasets/decode_cache.cpp datasets/decode_cache.h datasets/fakeddit.cpp datasets/fashion_mnist.cpp datasets/idx.cpp
  datasets/idx.h datasets/image_decode.cpp datasets/image_decode.h datasets/image_files.cpp datasets/image_files.h
  datasets/image_folder.cpp datasets/image_resize.cpp datasets/image_resize.h datasets/imagenet.cpp
  datasets/imagenet_labels.cpp datasets/imagenet_labels.h datasets/source_files.cpp datasets/source_files.h
  datasets/embeddings_npy.cpp datasets/synthetic_embeddings.cpp datasets/synthetic_images.cpp datasets/tsv.cpp datasets/tsv.h
  ${DQ_CORE_NUMERIC_SOURCES})
set(DQ_PRODUCER_dataset_LIBRARIES jpeg png)

set(DQ_PRODUCER_extractor_network_SOURCES
  ${DQ_NETWORK_SOURCES} models/extractor.cpp models/extractor_keys.cpp models/extractor_network.h)
set(DQ_PRODUCER_extractor_network_LIBRARIES torch)

set(DQ_PRODUCER_embeddings_SOURCES
  models/extractor.cpp models/extractor_keys.cpp models/carried_features.cpp models/extractor_network.h
  models/networks.cpp models/networks.h models/models.h
  models/airbench94.cpp models/airbench94.h models/compute_mode.cpp models/compute_mode.h
  core/embedding_check.cpp core/embedding_check.h ${DQ_DEVICE_BATCH_SOURCES})
set(DQ_PRODUCER_embeddings_LIBRARIES torch)

set(DQ_PRODUCER_knn_graph_SOURCES
  methods/knn/approximate_search.cpp methods/knn/bf16_tiles.cpp methods/knn/candidate_filter.cpp
  methods/knn/clustered_search.cpp methods/knn/device_search.cpp methods/knn/device_search.h methods/knn/duplicate_reduction.cpp methods/knn/escalation.cpp
  methods/knn/exact_search.cpp methods/knn/exact_sqdist.cpp methods/knn/graph.cpp methods/knn/graph_cache.cpp methods/knn/group_pairs.cpp
  methods/knn/knn.h methods/knn/lists.cpp methods/knn/nomination.cpp methods/knn/prepared_rows.cpp
  methods/knn/recall.cpp methods/knn/rerank.cpp methods/knn/search.h methods/knn/symmetric_search.cpp
  methods/knn/tiled_search.cpp methods/knn/torch_nominator.cpp methods/knn/internal/cells.h methods/knn/internal/duplicate_reduction.h methods/knn/internal/escalation.h methods/knn/internal/float_steps.h
  methods/knn/internal/graph_cache.h methods/knn/internal/lists.h methods/knn/internal/nomination.h
  methods/knn/internal/prepared_rows.h methods/knn/internal/recall.h methods/knn/internal/rerank.h
  methods/knn/internal/tiled_search.h
  methods/duplicate_rows.cpp methods/duplicate_rows.h ${DQ_CORE_NUMERIC_SOURCES})
set(DQ_PRODUCER_knn_graph_LIBRARIES faiss blas)

set(DQ_PRODUCER_bins_SOURCES
  methods/graphcut/bin_cache.cpp methods/graphcut/bins.cpp methods/graphcut/dense.cpp methods/graphcut/graphcut.h
  methods/graphcut/rows.cpp methods/graphcut/streaming.cpp methods/graphcut/internal/round_selector.h
  methods/graphcut/internal/rows.h ${DQ_CORE_NUMERIC_SOURCES})
set(DQ_PRODUCER_bins_LIBRARIES blas)

set(DQ_PRODUCER_patch_scores_SOURCES
  models/gradcam.cpp models/gradcam.h models/patch_backend.cpp patching/patch_stage.cpp patching/patch_stage.h
  patching/patches.cpp patching/patches.h models/compute_mode.cpp models/compute_mode.h models/extractor.cpp
  models/extractor_network.h ${DQ_DEVICE_BATCH_SOURCES})
set(DQ_PRODUCER_patch_scores_LIBRARIES torch)

set(DQ_PRODUCER_mae_SOURCES
  models/mae.cpp models/mae.h patching/patches.cpp patching/patches.h models/compute_mode.cpp models/compute_mode.h
  ${DQ_DEVICE_BATCH_SOURCES} ${DQ_CORE_NUMERIC_SOURCES})
set(DQ_PRODUCER_mae_LIBRARIES torch)

set(DQ_PRODUCER_selection_SOURCES
  methods/adq.cpp methods/adq_scores.cpp methods/adq_scores.h methods/bgfdq.cpp methods/class_partition.cpp
  methods/class_partition.h methods/coreset_files.cpp methods/coreset_files.h methods/dq.cpp methods/dq_common.cpp
  methods/dq_common.h methods/dqas_approx.cpp methods/indices.cpp
  methods/dqas_proxy.cpp methods/dqas_proxy.h methods/external.cpp methods/external_command.cpp
  methods/external_command.h methods/external_outputs.cpp methods/external_outputs.h methods/method.cpp methods/method.h methods/ncs.cpp methods/ncs.h methods/random.cpp
  methods/selection_step.cpp methods/selection_step.h
  # bgfdq(ni=lazy) searches its picks' lists inside the selection (no graph artefact): the search's code
  methods/knn/lists_on_demand.cpp ${DQ_PRODUCER_knn_graph_SOURCES} ${DQ_CORE_NUMERIC_SOURCES})
set(DQ_PRODUCER_selection_LIBRARIES faiss blas)

set(DQ_PRODUCER_patch_stage_SOURCES
  patching/patch_stage.cpp patching/patch_stage.h patching/patches.cpp patching/patches.h patching/spd.cpp patching/spd.h
  models/patch_backend.cpp models/gradcam.cpp models/gradcam.h models/compute_mode.cpp models/compute_mode.h
  models/extractor.cpp models/extractor_network.h ${DQ_DEVICE_BATCH_SOURCES} ${DQ_CORE_NUMERIC_SOURCES})
set(DQ_PRODUCER_patch_stage_LIBRARIES torch)

set(DQ_PRODUCER_metrics_SOURCES methods/metrics.cpp methods/metrics.h)
set(DQ_PRODUCER_metrics_LIBRARIES blas)

set(DQ_PRODUCER_train_SOURCES ${DQ_NETWORK_SOURCES} ${DQ_CORE_NUMERIC_SOURCES})
set(DQ_PRODUCER_train_LIBRARIES torch blas)

# Sources under datasets/, methods/, patching/ and models/ that make no artefact's bytes: listings, error
# translation, the loader of the LibTorch half, encoders used only by tests and tools, the neighbour-search
# zoo's named settings (benchmarks and tests; experiments spell the settings out, and the dataset producer
# makes the bytes).
set(DQ_SOURCES_WITHOUT_ARTEFACTS
  models/catalog.cpp models/torch_errors.cpp models/torch_errors.h
  models/library_entry.cpp models/models_library.cpp models/models_library.h
  datasets/image_encode.cpp datasets/image_encode.h datasets/embedding_zoo.cpp datasets/embedding_zoo.h
  # size checks that throw before anything is computed: they cannot change a byte of an artefact
  methods/size_limits.cpp methods/size_limits.h)

# Every producer's sources, once (what the generated file depends on).
set(DQ_PRODUCER_ALL_SOURCES "")
foreach(producer IN LISTS DQ_PRODUCERS)
  list(APPEND DQ_PRODUCER_ALL_SOURCES ${DQ_PRODUCER_${producer}_SOURCES})
endforeach()
list(REMOVE_DUPLICATES DQ_PRODUCER_ALL_SOURCES)
