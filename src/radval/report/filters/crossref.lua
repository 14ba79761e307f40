--[[
radval crossref filter: Quarto-style cross-references and callouts for plain pandoc.

Pass 1 numbers figures (ids fig-*), tables (tbl-*) and sections (all headers except
.unnumbered; ids sec-* are remembered).  HTML and DOCX get "Figure N: " / "Table N: "
caption prefixes and "1.2 " header numbers; typst numbers natively, so nothing is added.
The metadata field radval-prefix (the supplement: "S") prefixes every number: "Table S1",
"S2.1".  A link with class xref-ext (a reference into the other document of the report,
written by radval.report.document) stays a link in HTML and becomes its text elsewhere;
a div .table-note (notes under a table) is set small.  In typst a table of up to 35 rows
is kept on one page with its caption; a longer one breaks across pages.
Pass 2 rewrites citations whose key is a known fig-/tbl-/sec- id into links
"Figure N" / "Table N" / "Section N" (typst: a raw @key reference).  Unknown fig-/tbl-/sec-
keys become a visible "[missing reference: key]" and a warning; other citations are left
for citeproc (in typst without a bibliography they stay as their literal text).  Callouts (.callout-note|tip|warning|important|caution) become styled
blocks: HTML div.callout, DOCX custom-style "Callout", typst #block.
Images: outside DOCX a sibling .svg is preferred to a .png.
]]

local fmt = FORMAT or "html"
local is_typst = fmt:match("typst") ~= nil
local is_docx = fmt:match("docx") ~= nil

local labels = {}          -- id -> display text ("Figure 3")
local prefix = ""          -- "S" in the supplement
local counts = { fig = 0, tbl = 0 }
local sec = { 0, 0, 0, 0, 0, 0 }
local PREFIX = { fig = "Figure", tbl = "Table", sec = "Section" }

local function prefix_caption(caption, text)
  if is_typst or caption == nil then return caption end
  local long = caption.long
  if long == nil or #long == 0 then
    caption.long = pandoc.Blocks({ pandoc.Plain({ pandoc.Str(text) }) })
    return caption
  end
  local first = long[1]
  if first.content ~= nil then
    local ins = pandoc.Inlines({ pandoc.Strong({ pandoc.Str(text .. ":") }), pandoc.Space() })
    first.content = ins .. first.content
  end
  return caption
end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

local has_bibliography = false

local meta_pass = {
  Meta = function(meta)
    has_bibliography = meta.bibliography ~= nil or meta.references ~= nil
    if meta["radval-prefix"] ~= nil then prefix = pandoc.utils.stringify(meta["radval-prefix"]) end
    return nil
  end,
}

local number_pass = {
  traverse = "topdown",
  Header = function(h)
    if h.classes:includes("unnumbered") then return nil end
    local lvl = h.level
    sec[lvl] = sec[lvl] + 1
    for i = lvl + 1, #sec do sec[i] = 0 end
    local parts = {}
    for i = 1, lvl do parts[#parts + 1] = tostring(sec[i]) end
    local num = prefix .. table.concat(parts, ".")
    if h.identifier ~= "" then labels[h.identifier] = PREFIX.sec .. " " .. num end
    if not is_typst then
      h.content = pandoc.Inlines({ pandoc.Span({ pandoc.Str(num) }, { class = "header-section-number" }),
        pandoc.Space() }) .. h.content
      return h
    end
    return nil
  end,
  Figure = function(f)
    local id = f.identifier or ""
    if id:match("^fig%-") then
      counts.fig = counts.fig + 1
      labels[id] = PREFIX.fig .. " " .. prefix .. counts.fig
      f.caption = prefix_caption(f.caption, labels[id])
      return f
    end
    return nil
  end,
  Table = function(t)
    local id = t.identifier or ""
    if id == "" and t.attr then id = t.attr.identifier or "" end
    if id:match("^tbl%-") then
      counts.tbl = counts.tbl + 1
      labels[id] = PREFIX.tbl .. " " .. prefix .. counts.tbl
      t.caption = prefix_caption(t.caption, labels[id])
      local rows = 0
      for _, body in ipairs(t.bodies) do rows = rows + #body.body end
      if is_typst and rows <= 35 then
        -- a table that fits a page moves to the next page whole, its caption with it
        return pandoc.Blocks({ pandoc.RawBlock("typst", "#block(breakable: false)["), t,
          pandoc.RawBlock("typst", "]") })
      end
      return t
    end
    return nil
  end,
}

local function is_xref(key)
  return key:match("^fig%-") or key:match("^tbl%-") or key:match("^sec%-")
end

local ref_pass = {
  Cite = function(c)
    local out = pandoc.Inlines({})
    local all_xref = true
    for _, citation in ipairs(c.citations) do
      if not is_xref(citation.id) then all_xref = false end
    end
    if not all_xref then
      -- typst fails on a citation without a bibliography: keep it as plain text
      if is_typst and not has_bibliography then
        return pandoc.Inlines(c.content)
      end
      return nil
    end
    for i, citation in ipairs(c.citations) do
      if i > 1 then out:insert(pandoc.Str(",")) out:insert(pandoc.Space()) end
      local key = citation.id
      local text = labels[key]
      if text == nil then
        io.stderr:write("crossref.lua: unresolved reference @" .. key .. "\n")
        out:insert(pandoc.Emph({ pandoc.Str("[missing reference: " .. key .. "]") }))
      elseif is_typst then
        out:insert(pandoc.RawInline("typst", "@" .. key))
      else
        out:insert(pandoc.Link({ pandoc.Str(text) }, "#" .. key))
      end
    end
    return out
  end,
  Link = function(link)
    if link.classes:includes("xref-ext") and fmt:match("html") == nil then
      return link.content
    end
    return nil
  end,
  Image = function(img)
    if not is_docx and img.src:match("%.png$") then
      local svg = img.src:gsub("%.png$", ".svg")
      if exists(svg) then img.src = svg return img end
    end
    return nil
  end,
}

local CALLOUT_COLOURS = {
  note = "#0072B2", tip = "#009E73", warning = "#D55E00", important = "#CC79A7",
  caution = "#E69F00",
}

local function callout_kind(div)
  for _, cls in ipairs(div.classes) do
    local k = cls:match("^callout%-(%a+)$")
    if k then return k end
  end
  return nil
end

local function table_note(div)
  if is_typst then
    local out = pandoc.Blocks({ pandoc.RawBlock("typst", "#block(above: 4pt)[#set text(size: 7.5pt)") })
    out:extend(div.content)
    out:insert(pandoc.RawBlock("typst", "]"))
    return out
  elseif is_docx then
    return pandoc.Div(div.content, { ["custom-style"] = "Table Note" })
  end
  return nil
end

local callout_pass = {
  Div = function(div)
    if div.classes:includes("table-note") then return table_note(div) end
    local kind = callout_kind(div)
    if kind == nil then return nil end
    local blocks = pandoc.Blocks(div.content)
    local title = div.attributes["title"]
    local title_inlines
    if title then
      title_inlines = pandoc.Inlines({ pandoc.Str(title) })
    elseif #blocks > 0 and blocks[1].t == "Header" then
      title_inlines = blocks[1].content
      blocks:remove(1)
    else
      title_inlines = pandoc.Inlines({ pandoc.Str(kind:sub(1, 1):upper() .. kind:sub(2)) })
    end
    local label = kind:sub(1, 1):upper() .. kind:sub(2)
    local head = pandoc.Inlines({ pandoc.Strong(pandoc.Inlines({ pandoc.Str(label .. ":"), pandoc.Space() }) .. title_inlines) })
    if is_typst then
      local colour = CALLOUT_COLOURS[kind] or "#0072B2"
      local out = pandoc.Blocks({ pandoc.RawBlock("typst",
        '#block(width: 100%, inset: 8pt, radius: 2pt, fill: rgb("' .. colour .. '").lighten(88%), ' ..
        'stroke: (left: 3pt + rgb("' .. colour .. '")))[') })
      out:insert(pandoc.Para(head))
      out:extend(blocks)
      out:insert(pandoc.RawBlock("typst", "]"))
      return out
    elseif is_docx then
      local content = pandoc.Blocks({ pandoc.Para(head) })
      content:extend(blocks)
      return pandoc.Div(content, { ["custom-style"] = "Callout" })
    else
      local content = pandoc.Blocks({ pandoc.Div({ pandoc.Para(head) }, { class = "callout-title" }) })
      content:extend(blocks)
      return pandoc.Div(content, { class = "callout callout-" .. kind })
    end
  end,
}

return { meta_pass, callout_pass, number_pass, ref_pass }
