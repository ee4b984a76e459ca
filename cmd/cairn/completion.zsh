#compdef cairn
# zsh completion for cairn. Save it as _cairn in a folder of $fpath (before
# compinit runs), or load it in the running shell, after compinit, with
#   source <(cairn completion zsh)
# cairn itself names what may come next: it answers a line that ends in
# --generate-bash-completion with the commands, subcommands or flags that fit.
_cairn() {
  local -a request answer
  request=("${(@)words[1,CURRENT-1]}")
  if [[ "${words[CURRENT]}" == "--" ]]; then
    request+=("-") # cairn reads nothing after a "--" as a flag
  elif [[ "${words[CURRENT]}" == -* ]]; then
    request+=("${words[CURRENT]}")
  fi
  answer=("${(@f)$("${(@)request}" --generate-bash-completion 2>/dev/null)}")
  if [[ -n "${answer[1]}" ]]; then
    compadd -- "${(@)answer}"
  else
    _files
  fi
}

if [[ "${funcstack[1]}" == "_cairn" ]]; then
  _cairn "$@"
else
  compdef _cairn cairn
fi
