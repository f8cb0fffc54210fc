#pragma once
// The command line of an external method (methods/external.cpp) as a template: split into
// arguments once, like a POSIX shell would split it but without running a shell, then `{name}`
// placeholders are replaced inside each argument. A value is never split or interpreted, so
// `--tag {tag}` with tag = "a b; rm -rf ~" passes exactly one argument `a b; rm -rf ~`.
//
// Splitting: blanks separate arguments; '...' keeps everything literally; "..." keeps everything but
// `\"` and `\\`; a backslash outside quotes keeps the next character. Placeholders: `{name}` where name
// is [A-Za-z_][A-Za-z0-9_]*; `{{` and `}}` are literal braces; any other brace is literal.
#include <map>
#include <set>
#include <string>
#include <vector>

namespace dq {

class CommandTemplate {
 public:
  // Throws dq::Error naming `where` for an empty command or an unterminated quote.
  CommandTemplate(const std::string& text, const std::string& where);

  const std::vector<std::string>& arguments() const { return args_; }  // placeholders still in place
  const std::set<std::string>& placeholders() const { return placeholders_; }

  // The arguments with every placeholder replaced. Throws dq::Error naming `where` if a placeholder
  // has no value.
  std::vector<std::string> expand(const std::map<std::string, std::string>& values, const std::string& where) const;

 private:
  std::vector<std::string> args_;
  std::set<std::string> placeholders_;
};

// Arguments that are relative paths of existing files (relative to the current directory) become
// absolute, since the command runs in another folder; argv[0] only when it contains '/'. Returns the
// script: the first such file after the program ("python3 my.py"), else the program itself when it
// is a file given by path ("./my.sh"), else "".
std::string absolutize_file_arguments(std::vector<std::string>& argv);

// One line a POSIX shell would split back into `argv` (single quotes where needed), for logs.
std::string shell_quote_join(const std::vector<std::string>& argv);

}  // namespace dq
