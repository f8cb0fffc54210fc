#pragma once
// The label files that come with ImageNet-1K's flat validation folder. The devkit's ground truth
// gives ILSVRC2012_IDs, whose order is NOT the usual class index (the position of the WNID in the
// sorted list of the 1000 WNIDs): the IDs must go through an ID -> WNID table first. That table
// lives in the devkit's meta.mat, which needs a MATLAB reader, so we take it as text instead.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dq {

// ILSVRC2012_ID -> WNID. Accepts "ID WNID [words...]" lines (e.g. "1 n02119789 kit fox"), or lines
// holding only a WNID, where line i (1-based) is ID i. Errors name the file and line.
std::map<int64_t, std::string> read_synset_ids(const std::string& path);

// The devkit's ILSVRC2012_validation_ground_truth.txt: line i is the ILSVRC2012_ID of val image i.
std::vector<int64_t> read_ground_truth(const std::string& path);

// Caffe's val.txt: "ILSVRC2012_val_00000001.JPEG 65" (0-based index in the sorted WNID list).
std::map<std::string, int64_t> read_caffe_val(const std::string& path);

// Caffe's synset_words.txt: "n01440764 tench, Tinca tinca", in class-index order -> the WNIDs.
std::vector<std::string> read_synset_words(const std::string& path);

// Kaggle's LOC_val_solution.csv: "ImageId,PredictionString" with the WNID first in the prediction
// string -> ImageId (file stem) -> WNID.
std::map<std::string, std::string> read_kaggle_val_solution(const std::string& path);

// The image number in "ILSVRC2012_val_00000123.JPEG" (123), or -1 when the name has another form.
int64_t ilsvrc_val_number(const std::string& file_name);

}  // namespace dq
