#pragma once
// The code identity of each producer of artefacts, derived at build time: the sha256 of the
// sources that make the producer's bytes (the table is cmake/producers.cmake), of the versions of the
// libraries that change its numbers (LibTorch, FAISS, OpenBLAS, libjpeg, libpng) and of the compiler
// and build type. A cached artefact's key holds its producer's identity, so an edit to one of those
// sources rebuilds the artefact (and, through its content hash, everything made from it) without
// anybody bumping a version. Cells record the identities of the producers they used (provenance).
#include <cstddef>
#include <map>
#include <string>

namespace dq {

// Order and names as DQ_PRODUCERS in cmake/producers.cmake (a unit test checks they agree).
enum class Producer {
  Dataset,           // decoded dataset
  ExtractorNetwork,  // the proxy extractor's trained weights
  Embeddings,        // the extractor's embeddings of the training split
  KnnGraph,          // per-class KNN graphs
  Bins,              // per-class GraphCut bins
  PatchScores,       // GradCAM++ patch rankings
  Mae,               // the in-project masked autoencoder
  Selection,         // the selection methods
  PatchStage,        // SPD, dropping, reconstruction: the stored selection
  Metrics,           // coverage and redundancy
  Train,             // the target network's training and evaluation
};
inline constexpr size_t kProducerCount = 11;
const char* producer_name(Producer producer);  // "extractor_network"

// 64 hex digits. With the environment variable DQ_CODE_IDENTITY_SALT="name=text[,name=text...]" a
// named producer's identity becomes sha256(identity + "|salt:" + text): a stand-in for an edit of its
// sources, for tests of cache invalidation (tests/cli/stale_cache.sh). A salt can only make an
// identity differ from the build's, never equal another build's. An unknown name throws dq::Error.
std::string code_identity(Producer producer);
// Every producer's identity (salt applied), by name.
std::map<std::string, std::string> code_identities();
// sha256 of all producers' unsalted identities: the build's code identity.
std::string build_code_identity();
// "torch 2.0.1; faiss 1.7.3; blas libopenblasp-r0.3.21.so; jpeg 62; png 1.6.39; " as configured.
std::string library_versions();
// How many source files the build hashed for `producer` (for `dqbench verify` and the tests).
size_t code_identity_source_count(Producer producer);

namespace detail {
// Filled by the generated build/generated/code_identity.cpp.
struct GeneratedProducerIdentity {
  const char* name;
  const char* identity;
  size_t sources;
};
extern const GeneratedProducerIdentity kGeneratedProducerIdentities[];
extern const size_t kGeneratedProducerCount;
extern const char* const kGeneratedBuildIdentity;
extern const char* const kGeneratedLibraryVersions;
}  // namespace detail

}  // namespace dq
